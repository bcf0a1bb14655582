"""GUI trial 46: what Run's refusal and the output preview say of unreadable files, and of files not read yet.

The trial listed a folder with unreadable files: Run's refusal named each twice ("empty.tif: unreadable:
empty.tif: file is empty") and told the user to fix them with their own settings (meaningless for a
broken file); the preview promised "text.tif → text_vSM.ome.tif". With a 28-position CZI still being read,
the preview named "WP96…czi → WP96_4Pos_B4-10_DAPI_vSM.ome.tif" while its outputs are ``…_P05_vSM…``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_batchseg.io.sources import SourceInfo
from napari_batchseg.runnable import FileProblem, Reason
from napari_batchseg.view.file_info import ReadError
from napari_batchseg.view.outputs import named, planned_outputs, preview_lines
from napari_batchseg.view.run_refusal import REMOVE_BUTTON, Refusal, refuse_or_params

IN = Path("/data/in")


def _refusal(flagged: dict[Path, str]) -> str:
    refused = refuse_or_params([*flagged], lambda: [], lambda: "params", lambda: flagged)
    assert isinstance(refused, Refusal) and refused.files_tab
    return refused.text


def test_an_unreadable_file_is_named_once_and_the_advice_is_to_remove_or_replace_it() -> None:
    flagged = {IN / "empty.tif": "unreadable: empty.tif: file is empty (0 bytes)",
               IN / "text.tif": f"unreadable: {IN / 'text.tif'}: not a TIFF file (starts with 'this')"}
    text = _refusal(flagged)
    assert "empty.tif: unreadable: file is empty (0 bytes)" in text
    assert "text.tif: unreadable: not a TIFF file" in text
    assert text.count("empty.tif") == 1 and text.count("text.tif") == 1, text
    assert "Select one" not in text and "its own channel" not in text  # no setting fixes a broken file
    assert f"remove them ({REMOVE_BUTTON}) or replace the files" in text


def test_files_a_setting_fixes_keep_their_advice_and_a_mix_says_both() -> None:
    fixable = {IN / "a.nd2": "no channel 3 (it has 2: 0, 1)"}
    text = _refusal(fixable)
    assert "a.nd2: no channel 3" in text and "Select one to fix it (its own channel" in text
    mixed = {**fixable, IN / "b.tif": "unreadable: b.tif: file is empty (0 bytes)"}
    text = _refusal(mixed)
    assert "b.tif: unreadable: file is empty" in text and text.count("b.tif") == 1
    assert "1 cannot be read: remove them (Remove selected) or replace the files" in text
    assert "Select one of the others to fix it" in text


def _info(path: Path, positions: int) -> SourceInfo:
    return SourceInfo(path, {"P": positions, "Y": 8, "X": 8}, np.dtype(np.uint16), ["C0"])


def test_the_preview_names_no_output_of_an_unreadable_file_or_of_one_not_read_yet() -> None:
    good, broken, czi = IN / "good.tif", IN / "text.tif", IN / "WP96.czi"
    infos: dict[Path, SourceInfo | str | None] = {
        good: _info(good, 1), czi: None,
        broken: ReadError(FileProblem(Reason.UNREADABLE, "text.tif: not a TIFF file")),
    }
    outs = planned_outputs([good, broken, czi], infos, "", None)
    lines = preview_lines(outs, infos)
    assert lines[0] == "good.tif → good_vSM.ome.tif"
    assert lines[1] == "text.tif: unreadable: not run"
    assert lines[2].startswith("WP96.czi → (reading its metadata")
    assert "WP96_vSM" not in "\n".join(lines) and "text_vSM" not in "\n".join(lines)
    assert [f for f, _, _ in named(outs, infos)] == [good]  # only these are checked for existing outputs
    infos[czi] = _info(czi, 28)  # read: its outputs are named per position
    lines = preview_lines(planned_outputs([czi], infos, "", None), infos)
    assert lines[:2] == ["WP96.czi → WP96_P00_vSM.ome.tif", "WP96.czi → WP96_P01_vSM.ome.tif"]


def test_files_a_setting_makes_readable_keep_their_output_name() -> None:
    ambiguous, h5 = IN / "stack.tif", IN / "two.h5"
    infos: dict[Path, SourceInfo | str | None] = {
        ambiguous: ReadError(FileProblem(Reason.AMBIGUOUS_AXES, "stack.tif: ambiguous axes")),
        h5: ReadError(FileProblem(Reason.UNREADABLE, "two.h5: holds 2 image datasets")),  # one is chosen
    }
    outs = planned_outputs([ambiguous, h5], infos, "", None)
    assert preview_lines(outs, infos) == ["stack.tif → stack_vSM.ome.tif", "two.h5 → two_vSM.ome.tif"]
    assert len(named(outs, infos)) == 2
