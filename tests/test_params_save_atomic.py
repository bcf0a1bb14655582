"""``SegmentationParams.save`` writes atomically: a failed write leaves the earlier file whole.

Before, ``save`` was ``Path.write_text``: the file was truncated, then written in place, so a write cut
short (a full disk, a file size limit, a kill) left a parameter file cut short. The failure is real here:
a child process saves under a file size limit (``RLIMIT_FSIZE``) smaller than the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from napari_batchseg.params import SegmentationParams

_SAVE_OVER_THE_LIMIT = r'''
import resource, signal, sys
from napari_batchseg.params import SegmentationParams
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # (the write fails with EFBIG instead)
resource.setrlimit(resource.RLIMIT_FSIZE, (200, resource.RLIM_INFINITY))
try:
    SegmentationParams(diameter=12.0, model="nuclei").save(sys.argv[1])
except OSError as exc:
    print("failed:", exc.strerror)
'''


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_save_that_fails_leaves_the_earlier_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    SegmentationParams(diameter=30.0).save(path)
    before = path.read_bytes()
    assert len(before) > 200
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _SAVE_OVER_THE_LIMIT, str(path)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0 and "failed: File too large" in done.stdout, (done.stdout, done.stderr)
    assert path.read_bytes() == before  # before: its first 200 bytes
    assert SegmentationParams.load(path).diameter == 30.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]  # no temporary file left


def test_a_saved_file_gets_the_permissions_of_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    SegmentationParams(diameter=30.0).save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["diameter"] == 30.0
