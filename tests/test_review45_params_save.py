"""Review 45: ``SegmentationParams.save`` names the file asked for when it cannot write it.

Since cd8423b ``save`` writes a temporary file beside the target, then renames it; an error raised on
the way named that temporary file (``No such file or directory: '.../.params.yaml.partial-68_haral'``,
a file the user never asked for and which is gone), where ``write_text`` named ``params.yaml``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from napari_batchseg.params import SegmentationParams
from test_params_save_atomic import _SAVE_OVER_THE_LIMIT as OVER_THE_LIMIT


def test_a_missing_folder_names_the_parameter_file(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "params.yaml"
    with pytest.raises(FileNotFoundError) as caught:
        SegmentationParams().save(target)
    assert caught.value.filename == str(target)
    assert str(caught.value) == f"[Errno 2] No such file or directory: '{target}'"
    assert ".partial-" not in str(caught.value)


#: the atomic-save test's child (a save under a file size limit), printing the error as it reads
_SAVE_OVER_THE_LIMIT = OVER_THE_LIMIT.replace('print("failed:", exc.strerror)', 'print("failed:", exc)')


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_write_that_fails_names_the_parameter_file(tmp_path: Path) -> None:
    assert _SAVE_OVER_THE_LIMIT != OVER_THE_LIMIT
    path = tmp_path / "run.yaml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _SAVE_OVER_THE_LIMIT, str(path)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.stdout.strip() == f"failed: [Errno 27] File too large: '{path}'", (done.stdout, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing left, no file made
