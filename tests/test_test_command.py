"""The README's test command fails when an area cannot run, unless a named opt-out drops it (issue 21).

Each test runs pytest in a subprocess on a small probe file, with this folder's ``conftest.py`` (the
guard, ``tests/_areas.py``) copied beside it; a missing package is simulated by hiding its module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
AREA_VARS = ("CI", "SAM", "NAPARI", "CP4", "BATCHSEG_EXPECT_CELLPOSE")

PROBE = '''
import pytest

def test_plain():
    assert True

def test_needs_a_missing_module():
    pytest.importorskip("batchseg_no_such_module")

def test_needs_microsam_unmarked():
    pytest.importorskip("micro_sam")

@pytest.mark.sam
def test_microsam_marked():
    pytest.importorskip("micro_sam")

@pytest.mark.qt
def test_widget():
    pytest.importorskip("napari")

@pytest.fixture
def cp4():
    pytest.skip("needs Cellpose 4")

def test_cellpose4_only(cp4):
    pass

@pytest.mark.cp3
def test_cellpose3_only():
    import cellpose
    assert cellpose.version.startswith("3.")

def test_platform_specific():
    pytest.skip("needs a platform this is not")
'''


def _pytest(tmp_path: Path, env: dict[str, str] | None = None, hide: tuple[str, ...] = (),
            args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """pytest on the probe with the project's conftest; ``hide``: modules made unimportable."""
    for name in ("conftest.py", "_areas.py", "_realdata.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    sam\n    qt\n    cp3\n    cp4\n")
    code = textwrap.dedent(f"""
        import sys
        for name in {list(hide)!r}:
            sys.modules[name] = None
        import pytest
        sys.exit(pytest.main(["-q", "-rfs", "-p", "no:cacheprovider", *{list(args)!r}]))
    """)
    full = {k: v for k, v in os.environ.items() if k not in AREA_VARS} | (env or {})
    full["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # napari's and pytest-qt's plugins: not needed, slow
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=full, capture_output=True,
                          text=True, timeout=300)


def _cellpose_major() -> int:
    import cellpose

    return int(cellpose.version.split(".")[0])


def test_outside_ci_a_missing_module_skips(tmp_path):
    done = _pytest(tmp_path, hide=("micro_sam",))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "batchseg_no_such_module" in done.stdout and "failed" not in done.stdout


def test_under_ci_a_skip_for_a_missing_module_fails(tmp_path):
    done = _pytest(tmp_path, env={"CI": "true"})
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [x for x in done.stdout.splitlines() if x.startswith("FAILED")]
    assert [x.split()[1] for x in lines] == ["test_probe.py::test_needs_a_missing_module"], done.stdout
    assert "not installed" in lines[0]
    assert "SKIPPED" in done.stdout and "needs a platform this is not" in done.stdout  # other skips stay


def test_under_ci_missing_microsam_fails_before_any_test(tmp_path):
    done = _pytest(tmp_path, env={"CI": "true"}, hide=("micro_sam",))
    assert done.returncode == 4, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "micro-sam cannot run: micro_sam not installed" in out and "SAM=0 leaves these tests out" in out


def test_sam0_deselects_the_microsam_tests_and_says_so(tmp_path):
    done = _pytest(tmp_path, env={"CI": "true", "SAM": "0"}, hide=("micro_sam",),
                   args=("-k", "not missing_module"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "left out: micro-sam (SAM=0): 1 test(s) deselected" in done.stdout
    assert "SKIPPED [1] test_probe.py:11: could not import 'micro_sam'" in done.stdout  # opted out: a skip


def test_under_ci_missing_napari_fails_unless_opted_out(tmp_path):
    args = ("-k", "not missing_module")
    done = _pytest(tmp_path, env={"CI": "true"}, hide=("napari",), args=args)
    assert done.returncode == 4 and "napari widgets cannot run: napari not installed" in done.stderr
    done = _pytest(tmp_path, env={"CI": "true", "NAPARI": "0"}, hide=("napari",), args=args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "left out: napari widgets (NAPARI=0): 1 test(s) deselected" in done.stdout
    done = _pytest(tmp_path, env={"CI": "true"}, hide=("napari",), args=(*args, "-m", "not qt"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(_cellpose_major() != 3, reason="the probe is checked from the Cellpose 3 environment")
def test_tests_of_the_other_cellpose_major_are_deselected_not_skipped(tmp_path):
    done = _pytest(tmp_path, env={"CI": "true"}, args=("-k", "cellpose"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 7 deselected" in done.stdout  # 6 by -k, the Cellpose 4 one by the guard
    assert "left out: Cellpose 4 only (they run in .venv-cp4): 1 test(s) deselected" in done.stdout
    assert "SKIPPED" not in done.stdout
