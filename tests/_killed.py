"""Run Python code in a child process that ``os._exit`` kills (no handler, no clean-up), as SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_killed(code: str, *args: str | Path, code_expected: int = 9) -> None:
    """Run ``code`` with ``args`` (its ``sys.argv[1:]``) in a new interpreter; assert its exit status."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                                       os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == code_expected, run.stderr
