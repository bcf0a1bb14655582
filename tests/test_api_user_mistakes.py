"""Mistakes a scripting user makes with the Python API: each is refused with a message that says what to
pass, or (pixel sizes given as numbers) taken as the rest of the API takes them.

Found by driving the API as an imaging facility's scripts would (session 45): numpy arrays passed where
paths go, a pixel size given as a tuple to tracking as measuring takes it, negative labels.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from napari_batchseg.api import segment_files, track_masks
from napari_batchseg.export import export_masks
from napari_batchseg.io.sources import PixelSize
from napari_batchseg.measure import measure_labels


def _movie() -> np.ndarray:
    """Two frames, one square that moves by 2 px."""
    movie = np.zeros((2, 32, 32), np.uint16)
    movie[0, 4:10, 4:10] = 1
    movie[1, 4:10, 6:12] = 1
    return movie


@pytest.mark.parametrize("given", ["array", "list of arrays"])
def test_segment_files_refuses_arrays_saying_what_it_takes(tmp_path: Path, given: str) -> None:
    image = np.zeros((64, 64), np.uint16)
    paths = image if given == "array" else [image]
    refused = r"segment_files takes file and folder paths.*not an array.*\(64, 64\)"
    with pytest.raises(TypeError, match=refused):
        segment_files(paths, output_dir=str(tmp_path / "out"))  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_export_masks_refuses_an_array_saying_what_it_takes(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"export_masks takes mask files.*not an array.*\(2, 32, 32\)"):
        export_masks("rois", _movie(), tmp_path / "exports")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"export_masks takes mask files.*not an array"):
        export_masks("rois", [_movie()], tmp_path / "exports")  # type: ignore[list-item]
    assert not (tmp_path / "exports").exists()


@pytest.mark.parametrize(
    "given", [(0.5, 0.25), [0.5, 0.25], 0.5, np.float32(0.5), PixelSize(x=0.25, y=0.5, t=2.0)])
def test_track_masks_takes_the_pixel_sizes_measure_labels_takes(given: object) -> None:
    result = track_masks(_movie(), pixel_size=given)  # type: ignore[arg-type]
    table = measure_labels(_movie()[0], pixel_size=given)  # type: ignore[arg-type]
    first = result.tracks.iloc[0]
    # (y, x) as measure_labels reads it; a number: square pixels
    sy, sx = (0.5, 0.5) if np.isscalar(given) else (0.5, 0.25)
    assert math.isclose(first["centroid_y_um"], first["centroid_y_px"] * sy)
    assert math.isclose(first["centroid_x_um"], first["centroid_x_px"] * sx)
    assert math.isclose(table["centroid_y_um"].iloc[0], first["centroid_y_um"])
    assert math.isclose(table["area_um2"].iloc[0], 36 * sy * sx)
    assert ("time_s" in result.tracks.columns) == isinstance(given, PixelSize)


def test_a_pixel_size_of_another_kind_is_refused_naming_the_kinds() -> None:
    with pytest.raises(TypeError, match=r"pixel_size.*PixelSize, \(y, x\) or one number.*'0.5'"):
        track_masks(_movie(), pixel_size="0.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"pixel_size.*PixelSize, \(y, x\) or one number.*'0.5'"):
        measure_labels(_movie()[0], pixel_size="0.5")  # type: ignore[arg-type]


def test_measure_labels_refuses_negative_labels() -> None:
    labels = -_movie()[0].astype(np.int32)  # an object of value -1: it was measured as no object at all
    with pytest.raises(ValueError, match=r"labels must be >= 0.*-1"):
        measure_labels(labels)


def _one_pair(folder: Path) -> Path:
    """``cells.tif`` + ``cells_masks.tif`` (Cellpose's layout): six squares; the image's path."""
    import tifffile

    labels = np.zeros((64, 64), np.uint16)
    for i in range(6):
        labels[4 + 10 * i:10 + 10 * i, 8:16] = i + 1
    folder.mkdir()
    tifffile.imwrite(folder / "cells.tif", (labels > 0).astype(np.uint16) * 1000)
    tifffile.imwrite(folder / "cells_masks.tif", labels)
    return folder / "cells.tif"


@pytest.mark.parametrize("kind", [str, Path])
def test_training_takes_one_path_as_the_other_api_functions_do(tmp_path: Path, kind: type) -> None:
    from napari_batchseg.training import collect_training_data

    image = _one_pair(tmp_path / "pairs")
    for given in (image, image.parent):  # a file, a folder: one input, not a sequence of its characters
        data = collect_training_data(kind(given))
        assert [f.n_masks for f in data.frames] == [6]


def test_training_refuses_arrays_naming_frames_from_arrays(tmp_path: Path) -> None:
    from napari_batchseg.training import TrainingParams, collect_training_data, train_model

    image = np.zeros((64, 64), np.float32)
    refused = r"training inputs are files and folders, not an array.*frames_from_arrays"
    with pytest.raises(TypeError, match=refused):
        collect_training_data([image])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"not an array.*frames_from_arrays"):
        train_model(image, tmp_path / "model", TrainingParams(epochs=1), remember=False)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_evaluate_tracks_names_a_path_that_does_not_exist(tmp_path: Path) -> None:
    """A mistyped path is said to be missing (it was told to 'run batchseg track first')."""
    pytest.importorskip("traccuracy")
    from napari_batchseg.api import evaluate_tracks
    from napari_batchseg.errors import InputError

    result = tmp_path / "result_ctc"  # a CTC result folder: the prediction is taken as it is
    result.mkdir()
    (result / "res_track.txt").write_text("1 0 1 0\n")
    with pytest.raises(InputError, match=r"ground truth .*01_GT.*: no such file or folder") as gt_missing:
        evaluate_tracks(result, tmp_path / "01_GT")
    with pytest.raises(InputError, match=r"prediction .*a_vSM.ome.tif: no such file or folder") as missing:
        evaluate_tracks(tmp_path / "a_vSM.ome.tif", tmp_path / "01_GT")
    assert "batchseg track" not in str(gt_missing.value) + str(missing.value)


def test_segment_files_refuses_params_given_as_a_dict_saying_how_to_pass_them(tmp_path: Path) -> None:
    fields = {"model": "nuclei", "output_dir": str(tmp_path / "out")}
    refused = r"params must be a SegmentationParams, not dict.*segment_files\(paths, \*\*fields\)"
    with pytest.raises(TypeError, match=refused):
        segment_files([tmp_path / "a.tif"], fields)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_an_error_in_on_event_stops_the_run_before_it_reaches_the_caller(tmp_path: Path) -> None:
    """The run is closed (its partial output and lock removed, the folder it made removed) at once.

    It was closed only when the generator was collected: after the caller's ``except`` block (the
    traceback held it), so the output folder the run made was kept (the lock and partial file still in it
    when the API removed its empty folders) and the run's threads outlived the call.
    """
    import tifffile

    from napari_batchseg.testing import ThresholdSegmenter

    movie = np.random.default_rng(0).integers(0, 1000, (6, 48, 48), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "movie.tif", movie)
    out = tmp_path / "out"

    def on_event(event: object) -> None:
        if type(event).__name__ == "FrameDone":
            raise ValueError("a bug in the caller's callback")

    with pytest.raises(ValueError, match="callback"):
        segment_files([tmp_path / "movie.tif"], output_dir=str(out), axes="TYX",
                      segmenter=ThresholdSegmenter(delay=0.05), on_event=on_event)
    assert not out.exists()


def test_track_masks_refuses_negative_labels_naming_the_frame() -> None:
    from napari_batchseg.tracking import TrackingError

    movie = _movie().astype(np.int32)
    movie[1] *= -1  # (numpy's bincount said: "'list' argument must have no negative elements")
    with pytest.raises(TrackingError, match=r"frame 1: labels must be >= 0 .*-1"):
        track_masks(movie)
