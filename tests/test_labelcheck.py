"""Recognising label images (io.labelcheck): real intensity images refused, real annotations accepted."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from _downstream import DSB_GT, DSB_IMAGE
from napari_batchseg.errors import InputError
from napari_batchseg.io.labelcheck import (
    MAX_DIFFER,
    MAX_PIECES,
    WINDOW,
    check_looks_like_labels,
    intensity_evidence,
    label_values,
)


def test_real_intensity_images_and_annotations(bio_sample_images):
    cases = {
        "dsb image": (tifffile.imread(DSB_IMAGE), True),
        "dsb annotation": (tifffile.imread(DSB_GT), False),
        "nuclei.tif (3D image)": (tifffile.imread(bio_sample_images / "nuclei.tif"), True),
        "nuclei_label.tif (3D labels)": (tifffile.imread(bio_sample_images / "nuclei_label.tif"), False),
        "2D_timelapse.tif": (tifffile.imread(bio_sample_images / "2D_timelapse.tif"), True),
    }
    for name, (arr, intensity) in cases.items():
        planes = arr[:: max(1, arr.shape[0] // 5)] if arr.ndim == 3 else arr[None]
        for plane in planes:
            evidence = intensity_evidence(label_values(plane, name, 0))
            if evidence is None:  # an empty slice of the 3D labels
                assert not intensity
                continue
            assert evidence.is_intensity == intensity, (name, evidence)
            if intensity:
                assert evidence.differ > MAX_DIFFER and evidence.pieces_per_value > MAX_PIECES
            else:
                assert evidence.differ < 0.1 and evidence.pieces_per_value < 2


def test_refusal_is_one_line_naming_file_and_flag():
    with pytest.raises(InputError) as exc:
        check_looks_like_labels(tifffile.imread(DSB_IMAGE), "dir/img.tif", 3)
    message = str(exc.value)
    assert message.startswith("dir/img.tif: looks like an intensity image") and "in frame 3" in message
    assert "--force-labels" in message and "\n" not in message
    check_looks_like_labels(tifffile.imread(DSB_GT), "gt.tif")


def test_labels_that_are_unusual_but_labels():
    gt = tifffile.imread(DSB_GT)
    check_looks_like_labels((gt > 0).astype(np.uint8), "binary.tif")  # one value, many pieces
    tiny = np.arange(1, 171 * 171 + 1, dtype=np.uint32).reshape(171, 171)
    tiny = np.kron(tiny, np.ones((3, 3), np.uint32))  # 3x3 objects, all touching: neighbours differ often
    assert intensity_evidence(tiny).differ > 0.3
    check_looks_like_labels(tiny, "tiny.tif")
    assert intensity_evidence(np.zeros((64, 64), np.uint16)) is None


def test_large_frames_are_judged_on_a_window():
    big = np.zeros((3 * WINDOW, 3 * WINDOW), np.uint16)
    img = tifffile.imread(DSB_IMAGE)
    big[-img.shape[0]:, -img.shape[1]:] = img  # the content sits in a corner
    evidence = intensity_evidence(big)
    assert evidence is not None and evidence.is_intensity


def test_label_values_rule():
    floats = np.array([[0.0, 1.0], [2.0, 70000.0]], np.float32)
    out = label_values(floats, "f.tif", 0)
    assert out.dtype == np.uint32 and out.tolist() == [[0, 1], [2, 70000]]
    for bad, words in ((np.array([[0.5]]), "not whole numbers"), (np.array([[np.nan]]), "NaN"),
                       (np.array([[-1.0]]), "outside"), (np.array([[-1]], np.int16), "negative"),
                       (np.array([[1 + 1j]]), "complex")):
        with pytest.raises(InputError, match=f"f.tif: not a label mask: .*{words}"):
            label_values(bad, "f.tif", 0)
