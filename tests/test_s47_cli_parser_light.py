"""``batchseg``'s parser is built without the export package, the linkers or pandas (a trial: every
command, ``--help`` included, paid about a second importing them for the export kinds' and tracking
methods' names, and a Ctrl-C in that second ended in a traceback)."""

from __future__ import annotations

import subprocess
import sys

from napari_batchseg.cli import build_parser
from napari_batchseg.cli_downstream import EXPORT_KINDS, PATTERN_ON
from napari_batchseg.export import KINDS
from napari_batchseg.export.images import PATTERN_ON as EXPORT_PATTERN_ON
from napari_batchseg.tracking import DEFAULT_METHOD, METHODS, TRACKERS, track_masks
from napari_batchseg.tracking.registry import get_tracker


def test_building_the_parser_leaves_the_export_package_unimported() -> None:
    code = ("import sys; from napari_batchseg.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('napari_batchseg.export', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_parsers_export_choices_are_the_export_packages() -> None:
    assert tuple(KINDS) == EXPORT_KINDS
    assert tuple(EXPORT_PATTERN_ON) == PATTERN_ON
    args = build_parser().parse_args(["export", "ctc", "a_vSM.ome.tif", "--output-dir", "o",
                                      "--pattern-on", "position"])
    assert (args.kind, args.pattern_on) == ("ctc", "position")


def test_the_parsers_tracking_methods_are_the_registered_linkers() -> None:
    assert tuple(TRACKERS) == METHODS and DEFAULT_METHOD in METHODS
    assert callable(track_masks) and get_tracker(DEFAULT_METHOD).name == DEFAULT_METHOD
    args = build_parser().parse_args(["track", "a_vSM.ome.tif", "--method", "trackastra"])
    assert args.method == "trackastra"


def test_the_export_description_names_every_kind() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    description = sub.choices["export"].description
    for word in ("outlines", "ImageJ ROIs", "semantic", "OME-Zarr", "DaCapo", "Cellpose",
                 "Cell Tracking Challenge"):
        assert word in description
