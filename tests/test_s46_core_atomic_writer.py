"""Session 46: one atomic writer of text files (``_atomic_text.write_text_atomic``): parameters, outputs.

``SegmentationParams.save`` had its own small writer beside ``io.atomic.atomic_write_text`` (parameters,
the foundation layer, may not import ``io``): two copies of the temporary file's permissions (the umask,
the ``fchmod`` guard of Windows before Python 3.13) and of its write-sync-rename. Both write through the
foundation module now; what each did is kept (their own tests: test_params_save_atomic,
test_review45_params_save, test_review45_no_fchmod, test_trial44_save_config, test_reliability, ...).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from napari_batchseg._atomic_text import NAME_MAX, write_text_atomic
from napari_batchseg.errors import OutputError
from napari_batchseg.io.atomic import atomic_write_text
from napari_batchseg.params import SegmentationParams

SRC = Path(__file__).resolve().parents[1] / "src" / "napari_batchseg"


def _callers(name: str) -> list[str]:
    """The modules of the package that call ``os.<name>`` (or ``tempfile.<name>``)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == name:
                found.append(path.relative_to(SRC).as_posix())
                break
    return found


def test_one_module_gives_temporary_files_their_permissions() -> None:
    """The umask and the fchmod guard in one place (params.py and io/atomic.py had a copy each)."""
    assert _callers("fchmod") == ["_atomic_text.py"]
    assert "mkstemp" not in (SRC / "params.py").read_text(encoding="utf-8")


_UMASK_027 = r'''
import os, sys
os.umask(0o027)  # before the package reads it (once, at import)
from napari_batchseg.io.atomic import atomic_write_text
from napari_batchseg.params import SegmentationParams
atomic_write_text(sys.argv[1] + "/a.log", "text")
SegmentationParams(diameter=12.0).save(sys.argv[1] + "/p.yaml")
for name in ("a.log", "p.yaml"):
    print(oct(os.stat(sys.argv[1] + "/" + name).st_mode & 0o777))
'''


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_both_writers_give_the_permissions_of_a_new_file_under_the_process_umask(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _UMASK_027, str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.stdout.split() == ["0o640", "0o640"], (done.stdout, done.stderr)  # (mkstemp's own: 0o600)


def test_a_parameter_file_named_near_the_limit_is_saved(tmp_path: Path) -> None:
    target = tmp_path / ("p" * (NAME_MAX - len(".yaml")) + ".yaml")
    SegmentationParams(diameter=9.0).save(target)
    assert SegmentationParams.load(target).diameter == 9.0
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


def test_each_caller_keeps_its_own_error(tmp_path: Path) -> None:
    """The parameters: the OSError naming the file asked for; outputs: OutputError naming file or folder."""
    missing = tmp_path / "nope" / "p.yaml"
    with pytest.raises(FileNotFoundError) as caught:
        write_text_atomic(missing, "x")
    assert caught.value.filename == str(missing)
    with pytest.raises(OutputError, match=f"cannot write in output folder {tmp_path / 'nope'}: "):
        atomic_write_text(missing, "x")
    (tmp_path / "a_folder").mkdir()
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'a_folder'}: Is a directory"):
        atomic_write_text(tmp_path / "a_folder", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]  # no temporary file left
