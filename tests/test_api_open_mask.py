"""``api.open_mask`` refuses an intensity image as measure, export and evaluate do.

A walk: ``open_mask("examples/data/dsb2018_nuclei.tif")`` (the microscope image, not its mask) returned a
``(1, 512, 512)`` uint16 "mask" without complaint, where ``batchseg measure``, ``export`` and
``evaluate`` refuse that file as "looks like an intensity image".
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from _downstream import DSB_GT, DSB_IMAGE, segmented
from napari_batchseg.errors import InputError
from napari_batchseg.export import export_masks
from napari_batchseg.io.masks import read_mask

REFUSAL = r"dsb2018_nuclei\.tif: looks like an intensity image, not a label mask.*force_labels=True"


def test_open_mask_refuses_an_intensity_image_as_export_does(tmp_path):
    from napari_batchseg.api import open_mask

    with pytest.raises(InputError, match=REFUSAL):
        export_masks("semantic", DSB_IMAGE, tmp_path)  # the other commands' refusal ...
    with pytest.raises(InputError, match=REFUSAL):
        open_mask(DSB_IMAGE)  # ... is open_mask's
    forced = open_mask(DSB_IMAGE, force_labels=True)  # the user insists: read as it is
    np.testing.assert_array_equal(forced.labels[0], tifffile.imread(DSB_IMAGE))


def test_open_mask_reads_label_files_with_and_without_a_log():
    from napari_batchseg.api import open_mask

    gt = open_mask(DSB_GT)  # an annotation without a log: labels
    assert gt.labels.shape == (1, 512, 512) and gt.log_text == ""
    np.testing.assert_array_equal(gt.labels[0], tifffile.imread(DSB_GT))
    mask = segmented("dsb")  # the project's own mask
    opened = open_mask(mask)
    np.testing.assert_array_equal(opened.labels, read_mask(mask).labels)
    assert opened.log_text == read_mask(mask).log_text


def test_open_mask_refuses_an_intensity_volume(tmp_path):
    """A ``ZYX`` stack of the microscope image (no log) is refused as ``evaluate`` refuses volumes."""
    from napari_batchseg.api import open_mask

    image = tifffile.imread(DSB_IMAGE)
    stack = tmp_path / "dsb2018_nuclei.tif"
    tifffile.imwrite(stack, np.stack([image, image[::-1], image[:, ::-1]]), imagej=True,
                     metadata={"axes": "ZYX"})
    with pytest.raises(InputError, match=REFUSAL):
        open_mask(stack)
    assert open_mask(stack, force_labels=True).is_volume
    labels = tmp_path / "labels.tif"  # the annotation as a 3-slice volume: labels
    gt = tifffile.imread(DSB_GT)
    tifffile.imwrite(labels, np.stack([gt, gt, gt]), imagej=True, metadata={"axes": "ZYX"})
    assert open_mask(labels).labels.shape == (1, 3, 512, 512)


def test_the_package_open_mask_is_the_checked_one() -> None:
    """``from napari_batchseg import open_mask`` (the README's) gave io.masks.read_mask: no check."""
    import napari_batchseg
    from napari_batchseg import api

    assert napari_batchseg.open_mask is api.open_mask


def test_open_mask_gives_a_float_annotation_as_the_uint32_labels_measure_reads(tmp_path):
    """A review: an annotation saved as float32 came back as float32 from ``open_mask``, where measure,
    export and evaluate read it as ``uint32`` labels; one with fractions is refused, naming the file."""
    from napari_batchseg.api import open_mask

    labels = tifffile.imread(DSB_GT)
    tifffile.imwrite(tmp_path / "gt_float.tif", labels.astype(np.float32))
    opened = open_mask(tmp_path / "gt_float.tif")
    assert opened.labels.dtype == np.uint32
    np.testing.assert_array_equal(opened.labels[0], labels)
    tifffile.imwrite(tmp_path / "halves.tif", labels.astype(np.float32) / 2)
    with pytest.raises(InputError, match=r"halves\.tif: not a label mask: frame 0 has values that are not"):
        open_mask(tmp_path / "halves.tif", force_labels=True)
