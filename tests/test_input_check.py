"""The input of a mask is checked against the identity its log records before it is measured or trained on.

A walk: an input replaced after segmentation by another image of the same size was measured and trained
on without a word (the model learned the mask's labels over the wrong image). Real runs of the project's
model on crops of the real DSB2018 image and frames of the real ND2 time-lapse.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _downstream import ND2, segmented
from napari_batchseg.api import segment_files
from napari_batchseg.errors import InputError
from napari_batchseg.input_check import planes_digest
from napari_batchseg.io.masks import read_embedded_log
from napari_batchseg.measure import measure_table
from napari_batchseg.params import SegmentationParams
from napari_batchseg.provenance import parse_log
from napari_batchseg.training import frames_from_vsm

MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "batchseg_nuclei_cp3"


def test_the_planes_are_hashed_again_as_the_run_read_them(tmp_path, arcadia_nd2):
    """Frames 1-2 of a time-lapse, and best focus on a Z-stack: the replayed digest is the log's."""
    zstack = arcadia_nd2["example-zstack.nd2"]
    params = SegmentationParams(model=str(MODEL), z_range="best:1", z_projection="max",
                                output_dir=str(tmp_path))
    assert segment_files([zstack], params).ok
    for source, mask in ((ND2, segmented("nd2", 1, 2)), (zstack, tmp_path / f"{zstack.stem}_vSM.ome.tif")):
        logged = parse_log(read_embedded_log(mask))
        digest = planes_digest(source, logged.params, logged.position or 0)
        assert digest == logged.input_identity["planes_sha256"], source.name
    logged = parse_log(read_embedded_log(segmented("nd2", 1, 2)))  # other frames: another digest
    assert planes_digest(ND2, logged.params.replace(end_frame=1)) != logged.input_identity["planes_sha256"]


@pytest.fixture
def run(tmp_path, dsb2018):
    image = np.asarray(tifffile.imread(dsb2018[0]))
    path = tmp_path / "nuclei.tif"
    tifffile.imwrite(path, image[:160, :160])
    params = SegmentationParams(model=str(MODEL), diameter=0, output_dir=str(tmp_path / "out"))
    assert segment_files([path], params).ok
    return path, tmp_path / "out" / "nuclei_vSM.ome.tif", image


def test_a_replaced_input_is_refused_and_a_touched_one_is_not(run):
    path, mask, image = run
    before = measure_table(mask)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))  # copied elsewhere: same planes
    assert measure_table(mask).equals(before)
    assert len(frames_from_vsm(mask, min_masks=1).frames) == 1
    tifffile.imwrite(path, image[96:256, 64:224])  # another crop of the same size
    assert path.stat().st_size == st.st_size
    with pytest.raises(InputError, match=r"nuclei_vSM.ome.tif: its input .*nuclei.tif changed since it was "
                                         r"segmented \(same size, other planes"):
        measure_table(mask)
    with pytest.raises(InputError, match=r"changed since it was segmented.*wrong labels"):
        frames_from_vsm(mask, min_masks=1)
    given = path.with_name("given.tif")  # the user's own image in its place: taken as given
    shutil.copy(path, given)
    assert len(measure_table(mask, image=given)) == len(before)
    tifffile.imwrite(path, image[:200, :200])
    with pytest.raises(InputError, match=r"changed since it was segmented \(\d+ bytes, \d+ then\): segment"):
        measure_table(mask)


def test_a_moved_input_copied_beside_its_mask_trains(run):
    """The input moved away: said with what to do; copied beside the mask (a new modification time), the
    planes are checked again and the frames come."""
    path, mask, _image = run
    moved = path.with_name("elsewhere.tif")
    path.rename(moved)
    with pytest.raises(InputError, match=r"does not exist .*put it back, or copy it beside the mask"):
        frames_from_vsm(mask, min_masks=1)
    shutil.copy(moved, mask.with_name(path.name))
    assert len(frames_from_vsm(mask, min_masks=1).frames) == 1


def test_a_replaced_volume_input_is_refused(tmp_path):
    """A review: volume masks (z_mode 3d/stitch) were measured from a replaced input without a word."""
    from test_3d import _params, write_crop

    source = write_crop(tmp_path / "s.ome.tif", n_t=2)
    assert segment_files([source], _params(tmp_path, z_mode="stitch")).ok
    mask = tmp_path / "out" / "s_vSM.ome.tif"
    before = measure_table(mask)
    pixels = tifffile.memmap(source, mode="r+")  # the frames swapped in place: same size, other planes
    data = np.array(pixels)
    pixels[:] = data[::-1]
    pixels.flush()
    del pixels
    with pytest.raises(InputError, match=r"s_vSM.ome.tif: its input .* changed since it was segmented \(sa"):
        measure_table(mask)
    pixels = tifffile.memmap(source, mode="r+")
    pixels[:] = data  # back as it was (a newer time): measured as before
    pixels.flush()
    del pixels
    assert measure_table(mask).equals(before)


def test_a_zarr_input_is_checked_by_its_planes(tmp_path):
    """A review: a Zarr folder's own size and time were compared (a copy elsewhere refused, chunks
    rewritten in place let through)."""
    zarr = pytest.importorskip("zarr")
    from ome_zarr.writer import write_image

    image = np.asarray(tifffile.imread(Path(__file__).resolve().parents[1] / "examples" / "data"
                                       / "dsb2018_nuclei.tif"))[:128, :128]
    store = tmp_path / "n.zarr"
    write_image(image[None], zarr.open_group(str(store), mode="w"), axes="tyx")
    params = SegmentationParams(model=str(MODEL), diameter=0, output_dir=str(tmp_path / "out"))
    assert segment_files([store], params).ok
    (mask,) = (tmp_path / "out").glob("*_vSM.ome.tif")
    before = measure_table(mask)
    group = zarr.open_group(str(store), mode="r+")
    attrs = group.attrs.asdict()
    levels = attrs.get("ome", attrs)["multiscales"][0]["datasets"]
    pixels = group[levels[0]["path"]]  # the full resolution, which is read
    pixels[:] = image[None, ::-1]  # the chunks rewritten in place
    with pytest.raises(InputError, match="same size, other planes"):
        measure_table(mask)
    pixels[:] = image[None]
    assert measure_table(mask).equals(before)
