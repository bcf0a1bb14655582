"""Two inputs, one output name: never taken for each other.

* Two images of one Zarr container whose names differ after a dot (``run.zarr/img.1``, ``run.zarr/img.2``)
  both got ``run_img_vSM`` since the mask name of an image inside a ``*.zarr`` folder lost its last dotted
  part (commit 5ae690a): the batch was refused as colliding. Only an image extension is dropped now.
* Run separately, two inputs of one output name (``a.tif`` then ``a.tiff``): the second was skipped as
  "output exists" (done), its output being the first one's. Now it is "made from another input", and says
  which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import engine
from napari_batchseg.existing import dry_run_line, output_status
from napari_batchseg.io.naming import output_names
from napari_batchseg.params import SegmentationParams
from napari_batchseg.testing import ThresholdSegmenter


def test_images_of_one_zarr_named_apart_after_a_dot_get_outputs_apart(tmp_path: Path) -> None:
    one, two = (output_names(tmp_path / "run.zarr" / name) for name in ("img.1", "img.2"))
    assert one.mask == tmp_path / "run_img.1_vSM.ome.tif", one.mask  # before: run_img_vSM.ome.tif, both
    assert two.mask == tmp_path / "run_img.2_vSM.ome.tif", two.mask
    inner = output_names(tmp_path / "run.zarr" / "sub" / "img.ome.tif")
    assert inner.mask == tmp_path / "run_sub_img_vSM.ome.tif"  # (an image extension is dropped)


def test_two_ngff_images_of_one_zarr_plan_apart(tmp_path: Path) -> None:
    pytest.importorskip("bioio_ome_zarr")
    import zarr

    root = zarr.open_group(str(tmp_path / "run.zarr"), mode="w", zarr_format=2)
    for i, name in enumerate(["img.1", "img.2"]):
        group = root.require_group(name)
        group.create_array("0", data=np.full((24, 32), 100 * (i + 1), np.uint16), chunks=(24, 32))
        scale = [{"type": "scale", "scale": [1.0, 1.0]}]
        group.attrs.update({"multiscales": [{
            "version": "0.4", "name": "0", "axes": [{"name": a, "type": "space"} for a in "yx"],
            "datasets": [{"path": "0", "coordinateTransformations": scale}]}]})
    images = [tmp_path / "run.zarr" / "img.1", tmp_path / "run.zarr" / "img.2"]
    the_plan = engine.plan(images, SegmentationParams())
    assert [t.names.mask.name for t in the_plan.tasks] == ["run_img.1_vSM.ome.tif", "run_img.2_vSM.ome.tif"]
    assert all(t.error is None for t in the_plan.tasks), [t.error for t in the_plan.tasks]


def test_an_output_of_another_input_of_the_same_name_is_not_done(tmp_path: Path) -> None:
    image = np.full((48, 48), 10, np.uint16)
    image[8:20, 8:20] = 1000
    tifffile.imwrite(tmp_path / "a.tif", image)
    tifffile.imwrite(tmp_path / "a.tiff", image[::-1])  # another image, the same size
    params = SegmentationParams()
    done = list(engine.run(engine.plan([tmp_path / "a.tif"], params), segmenter=ThresholdSegmenter()))
    assert isinstance(done[-1], engine.TaskDone), done[-1]
    task = engine.plan([tmp_path / "a.tiff"], params).tasks[0]
    assert task.names.mask == done[-1].mask_path  # (one output name)
    status = output_status(task, params)
    assert status.state == "other", status  # before: "same", skipped as done
    assert status.differences == {"input": (str(tmp_path / "a.tif"), str(tmp_path / "a.tiff"))}
    events = list(engine.run(engine.plan([tmp_path / "a.tiff"], params), segmenter=ThresholdSegmenter()))
    assert isinstance(events[-1], engine.TaskSkipped), events[-1]
    assert "the output of another input" in events[-1].reason and "a.tif (still there)" in events[-1].reason
    assert output_status(engine.plan([tmp_path / "a.tif"], params).tasks[0], params).state == "same"


@pytest.mark.parametrize("other_params", [False, True])
def test_overwrite_never_replaces_the_output_of_another_input_still_there(tmp_path: Path,
                                                                          other_params: bool) -> None:
    """``a.tif`` segmented, then ``a.tiff`` under ``--existing overwrite`` (same or other parameters):
    ``a.tif``'s output was replaced by ``a.tiff``'s. Refused now, saying how to keep both; once ``a.tif``
    is gone (renamed to ``a.tiff``), the output is replaced as asked."""
    image = np.full((48, 48), 10, np.uint16)
    image[8:20, 8:20] = 1000
    tifffile.imwrite(tmp_path / "a.tif", image)
    tifffile.imwrite(tmp_path / "a.tiff", image[::-1])
    done = list(engine.run(engine.plan([tmp_path / "a.tif"], SegmentationParams()),
                           segmenter=ThresholdSegmenter()))
    assert isinstance(done[-1], engine.TaskDone), done[-1]
    before = done[-1].mask_path.read_bytes()
    params = SegmentationParams(existing="overwrite", diameter=20.0 if other_params else 0.0)
    the_plan = engine.plan([tmp_path / "a.tiff"], params)
    line, fails = dry_run_line(the_plan.tasks[0], params)
    assert fails and "the output of a.tif, which is still there" in line, line
    events = list(engine.run(the_plan, segmenter=ThresholdSegmenter()))
    assert isinstance(events[-1], engine.TaskFailed), events[-1]
    assert "another input" in events[-1].reason and "--suffix" in events[-1].reason, events[-1].reason
    assert done[-1].mask_path.read_bytes() == before  # a.tif's output as it was
    (tmp_path / "a.tif").unlink()
    events = list(engine.run(engine.plan([tmp_path / "a.tiff"], params), segmenter=ThresholdSegmenter()))
    assert isinstance(events[-1], engine.TaskDone), events[-1]
