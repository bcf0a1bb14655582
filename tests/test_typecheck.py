"""mypy over src/ with the configuration of pyproject.toml ([tool.mypy]) must report no error.

This is how CI type-checks: the README's test command runs pytest, and this test runs mypy (also
available alone as ``scripts/typecheck.sh``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_reports_no_error_in_src():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy"],  # files, strictness and cache dir come from pyproject.toml
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = (proc.stdout + proc.stderr).strip()
    assert "No module named mypy" not in output, "mypy is missing: install the 'testing' extra"
    assert proc.returncode == 0, f"mypy found errors (scripts/typecheck.sh shows the same):\n{output}"
    assert output.startswith("Success:"), output
