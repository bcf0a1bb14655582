"""Run Python code in a child process that ``os._exit`` kills (no handler, no clean-up), as SIGKILL.

Also the export both kill tests use (tests/test_export_publish.py, tests/test_clean_aside.py): a ROI
export made once (:func:`rois_export`), then made again with ``overwrite`` in a child killed at the
rename of the new file onto the earlier one (:func:`kill_at_the_rois_rename`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def run_killed(code: str, *args: str | Path, code_expected: int = 9) -> None:
    """Run ``code`` with ``args`` (its ``sys.argv[1:]``) in a new interpreter; assert its exit status."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                                       os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == code_expected, run.stderr


_KILLED_AT_THE_RENAME = r'''
import errno, os, sys
from pathlib import Path
from napari_batchseg.export import ExportOptions, export_masks
from napari_batchseg.io import atomic
mask, out, links = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "links"

def no_link(*args, **kwargs):  # a FUSE mount (gcsfuse, sshfs): the earlier file is renamed aside
    raise OSError(errno.ENOSYS, "Function not implemented")

def dying(real):
    def replace(src, dst):
        if Path(dst) == out / "cells_vSM_rois.zip":  # the new export's rename onto the earlier one
            os._exit(9)  # SIGKILL, the OOM killer, a power cut: no handler, no clean-up
        return real(src, dst)
    return replace

if not links:
    os.link = no_link
os.replace = dying(os.replace)
atomic._replace = dying(atomic._replace)
export_masks("rois", [mask], out, ExportOptions(overwrite=True))
'''


def rois_export(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """``(mask, out, bytes)``: a 2-frame mask, its ROIs exported into ``out``, the zip's bytes."""
    from napari_batchseg.export import ExportOptions, export_masks
    from napari_batchseg.io.masks import write_mask

    labels = np.zeros((2, 16, 16), np.uint16)
    labels[:, 4:8, 4:8] = 1
    mask = tmp_path / "cells_vSM.ome.tif"
    write_mask(mask, labels)
    out = tmp_path / "out"
    export_masks("rois", [mask], out, ExportOptions())
    return mask, out, (out / "cells_vSM_rois.zip").read_bytes()


def kill_at_the_rois_rename(mask: Path, out: Path, links: bool = True) -> None:
    """Export ``mask``'s ROIs into ``out`` again (``overwrite``) in a child killed at the zip's rename.

    ``links=False``: on a file system without hard links (``os.link`` fails with ENOSYS).
    """
    run_killed(_KILLED_AT_THE_RENAME, mask, out, "links" if links else "no-links")
