"""Session 46 review of the session's own change: what it broke or left, each checked against the code.

* A folder scan died on a file name of 240 bytes or more: the export check's ``<name>.provenance.json``
  passed the file system's 255-byte limit and ``Path.exists`` raised ENAMETOOLONG.
* A mask of this tool from before output ids (its embedded log has none) beside a new log with an id is
  what an overwrite cut short leaves: it was taken for a hand edit and kept, stale, for ever.
* The ``.corrected.log`` written for a mask without its log was made 0600 (``mkstemp``) and, for a long
  name, its temporary name passed 255 bytes: the overwrite failed on every try.
* An export file added to the widget's list by name was refused as "a mask made by this plugin" (the
  CLI takes a file named explicitly).
* A parameter file that is not UTF-8 text ended in a UnicodeDecodeError traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.api import segment_files
from napari_batchseg.discovery import FileFilter, collect_files
from napari_batchseg.export import export_masks
from napari_batchseg.io.masks import read_embedded_log, write_mask
from napari_batchseg.io.naming import OutputNames
from napari_batchseg.io.pairs import pair_state
from napari_batchseg.params import ParameterError, read_yaml_mapping
from napari_batchseg.provenance import OUTPUT_ID_PREFIX
from napari_batchseg.testing import ThresholdSegmenter
from napari_batchseg.view.file_list import find_inputs_split


def _image(path: Path) -> Path:
    pixels = np.full((48, 48), 10, np.uint16)
    for k in range(4):
        pixels[4 + (k // 2) * 22: 14 + (k // 2) * 22, 4 + (k % 2) * 22: 14 + (k % 2) * 22] = 1000
    tifffile.imwrite(path, pixels)
    return path


def test_a_scan_lists_a_file_with_a_long_name(tmp_path: Path) -> None:
    long = _image(tmp_path / ("n" * 236 + ".tif"))  # 240 bytes: the name plus ".provenance.json" is not
    found = collect_files([tmp_path], FileFilter(contains=""))
    assert long in found


def test_a_pre_id_mask_beside_a_new_log_is_cut_short_not_edited(tmp_path: Path) -> None:
    summary = segment_files(_image(tmp_path / "a.tif"), segmenter=ThresholdSegmenter())
    mask, log = summary.reports[0].mask, summary.reports[0].log
    assert mask is not None and log is not None
    embedded = read_embedded_log(mask)
    old = "\n".join(line for line in embedded.splitlines() if OUTPUT_ID_PREFIX not in line) + "\n"
    assert old != embedded and OUTPUT_ID_PREFIX in log.read_text(encoding="utf-8")
    write_mask(mask, tifffile.imread(mask), log_text=old)  # an older version's mask: a log, no id
    assert pair_state(OutputNames(mask, log))[0] == "incomplete"
    tifffile.imwrite(mask, tifffile.imread(mask), imagej=True)  # re-saved by Fiji: no log of this tool
    assert pair_state(OutputNames(mask, log))[0] == "edited"


@pytest.mark.parametrize("stem", ["a", "b" * 225])
def test_a_mask_without_its_log_is_kept_with_a_readable_log(tmp_path: Path, stem: str) -> None:
    image = _image(tmp_path / f"{stem}.tif")
    first = segment_files(image, segmenter=ThresholdSegmenter()).reports[0]
    assert first.log is not None and first.mask is not None
    first.log.unlink()
    again = segment_files(image, segmenter=ThresholdSegmenter(), existing="overwrite").reports[0]
    assert again.status == "done", again
    kept_log = first.mask.with_name(first.mask.name.replace(".ome.tif", ".corrected.log"))
    assert kept_log.is_file() and kept_log.read_text(encoding="utf-8")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(kept_log.stat().st_mode) == 0o666 & ~umask
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_an_export_named_in_the_widget_is_taken(tmp_path: Path) -> None:
    mask = segment_files(_image(tmp_path / "a.tif"), segmenter=ThresholdSegmenter()).reports[0].mask
    assert mask is not None
    export_masks("cellpose", mask, tmp_path / "exp")
    image = next((tmp_path / "exp").glob("*_t0000.tif"))
    _, named, refused = find_inputs_split([image], False)
    assert named == [image] and refused == []


def test_a_binary_parameter_file_is_refused_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"diameter: 30\n\xff\xfe\x00model")
    with pytest.raises(ParameterError, match=r"bin\.yaml is not text \(UTF-8\)"):
        read_yaml_mapping(path)
