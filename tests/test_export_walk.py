"""``export_masks`` as a Python user calls it: one mask path, relative folders, an output already there.

The mask is the project's own segmentation of the real ND2 time-lapse (``_downstream.segmented``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _downstream import segmented
from napari_batchseg.errors import OutputError
from napari_batchseg.export import ExportOptions, export_masks
from napari_batchseg.io.masks import read_mask


@pytest.mark.parametrize("as_type", [str, Path])
def test_one_mask_path_is_one_mask(tmp_path, as_type):
    """``export_masks(kind, "a_vSM.ome.tif", folder)`` exported each character of the path as a mask."""
    mask = segmented("nd2")
    result = export_masks("semantic", as_type(mask), tmp_path)
    assert list(result.outputs) == [Path(mask)] and result.failed == {}
    written = tifffile.imread(tmp_path / f"{mask.name.removesuffix('.ome.tif')}_semantic.tif")
    np.testing.assert_array_equal(written > 0, read_mask(mask).labels > 0)


def test_an_output_there_names_the_api_option(tmp_path):
    """The refusal named only the CLI's ``--overwrite``, which a Python caller cannot pass."""
    mask = segmented("nd2")
    export_masks("rois", [mask], tmp_path)
    with pytest.raises(OutputError, match=r"--overwrite \(API: overwrite=True\)"):
        export_masks("rois", [mask], tmp_path)
    export_masks("rois", [mask], tmp_path, ExportOptions(overwrite=True))


def test_provenance_paths_do_not_depend_on_the_working_folder(tmp_path, monkeypatch):
    """A relative output folder was recorded as given: ``exports/...`` meant nothing once elsewhere."""
    mask = segmented("nd2")
    monkeypatch.chdir(tmp_path)
    result = export_masks("outlines", [mask], "exports")
    base = mask.name.removesuffix(".ome.tif")
    record = json.loads((tmp_path / "exports" / f"{base}_outlines.provenance.json").read_text())
    assert record["output"] == str((tmp_path / "exports" / f"{base}_outlines").resolve())
    assert record["files"] == [str((tmp_path / p).resolve()) for p in result.outputs[mask]]
    assert all(Path(f).is_file() for f in record["files"])
