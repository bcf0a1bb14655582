"""Advice in messages names the settings as the caller's front end spells them (session 45, API trial).

The engine serves ``batchseg segment``, the Python API and the napari dock; its skip and refusal reasons
gave a script calling ``segment_files`` twice "(use --existing overwrite to redo)", a command-line option
it has no use for. Export's outline pattern errors said "--pattern …" to API callers too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.api import segment_files
from napari_batchseg.testing import ThresholdSegmenter


def _image(path: Path) -> Path:
    image = np.full((48, 48), 10, np.uint16)
    image[8:20, 8:20] = 1000
    tifffile.imwrite(path, image)
    return path


def _no_cli_options(reason: str) -> None:
    assert "--" not in reason, reason


def test_segment_files_twice_says_how_to_redo_in_the_apis_words(tmp_path: Path) -> None:
    image = _image(tmp_path / "a.tif")
    out = str(tmp_path / "out")
    first = segment_files([image], output_dir=out, segmenter=ThresholdSegmenter())
    assert first.reports[0].status == "done"
    (skipped,) = segment_files([image], output_dir=out, segmenter=ThresholdSegmenter()).reports
    assert skipped.status == "skipped"
    assert skipped.reason.endswith("(use existing='overwrite' to redo)"), skipped.reason
    _no_cli_options(skipped.reason)
    (refused,) = segment_files([image], output_dir=out, existing="error",
                               segmenter=ThresholdSegmenter()).reports
    assert refused.status == "failed"
    assert refused.reason.endswith("(use existing='overwrite' or existing='skip')"), refused.reason
    (other,) = segment_files([image], output_dir=out, diameter=20.0, segmenter=ThresholdSegmenter()).reports
    assert other.status == "skipped" and other.other_parameters
    assert "(use existing='overwrite', or another suffix)" in other.reason, other.reason
    _no_cli_options(other.reason)


def test_the_output_of_another_input_says_how_to_keep_both_in_the_apis_words(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    segment_files([_image(tmp_path / "a.tif")], output_dir=out, segmenter=ThresholdSegmenter())
    (report,) = segment_files([_image(tmp_path / "a.tiff")], output_dir=out, existing="overwrite",
                              segmenter=ThresholdSegmenter()).reports
    assert report.status == "failed"
    assert "(use suffix='S' or output_dir='DIR' to keep both)" in report.reason, report.reason
    _no_cli_options(report.reason)


def test_the_command_line_keeps_its_options() -> None:
    """The reasons themselves (printed by ``batchseg segment``) are the command line's; only the API's
    reports respell them."""
    from napari_batchseg._commit import for_api

    said = "output exists: x/a_vSM.ome.tif (use --suffix S or --output-dir DIR for new outputs, or " \
           "--existing overwrite to replace it)"
    assert for_api(said) == ("output exists: x/a_vSM.ome.tif (use suffix='S' or output_dir='DIR' for new "
                             "outputs, or existing='overwrite' to replace it)")
    # a name too long (review 45b): the API has no --suffix either
    assert for_api("give the input a shorter name (or use a shorter --suffix)").endswith("a shorter suffix)")


@pytest.mark.parametrize(("pattern", "said"), [
    (r"(?P<well>Z\d+)", r"a_vSM\.ome\.tif: pattern '\(\?P<well>Z\\\\d\+\)' matches none of input 'a\.tif'"),
    (r"(?P<plate>[", r"^pattern '\(\?P<plate>\[' is not a valid regular expression"),
    (r"(?P<day>\d+)", r"^pattern .* has none of the named groups plate, well, site"),
])
def test_an_outline_pattern_is_named_as_every_front_end_calls_it(tmp_path: Path, pattern: str,
                                                                 said: str) -> None:
    """Not "--pattern": the API's setting is ``ExportOptions.pattern``, the dock's field "Pattern"."""
    from napari_batchseg.errors import InputError
    from napari_batchseg.export import ExportOptions, export_masks

    (report,) = segment_files([_image(tmp_path / "a.tif")], output_dir=str(tmp_path / "out"),
                              segmenter=ThresholdSegmenter()).reports
    assert report.mask is not None
    with pytest.raises((InputError, ValueError), match=said) as raised:
        export_masks("outlines", [report.mask], tmp_path / "exports", ExportOptions(pattern=pattern))
    _no_cli_options(str(raised.value))
