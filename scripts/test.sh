#!/usr/bin/env bash
# The README's test command, as CI runs it: set up .venv (Cellpose 3, napari, micro-sam) and run every test,
# then set up .venv-cp4 (Cellpose 4) and run the Cellpose 4 tests there (they must run, not skip).
#   CP4=0 scripts/test.sh        only the main environment
#   scripts/test.sh -x -k NAME   extra arguments go to the main environment's pytest
# Under a virtual X server when xvfb-run exists (screenshot tests); otherwise Qt runs offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if command -v xvfb-run >/dev/null 2>&1; then
  xvfb-run -a .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
else
  QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
fi
if [ "${CP4:-1}" = "1" ]; then
  # Cellpose 4 (docs/cellpose4.md): a second environment with Cellpose 4 instead of 3 (and micro-sam beside it)
  # runs the Cellpose 4 tests, an end-to-end CLI run included.
  scripts/setup_cp4.sh
  BATCHSEG_EXPECT_CELLPOSE=4 .venv-cp4/bin/python -m pytest -q -p no:cacheprovider \
    -p no:pytest-qt -m "not qt" tests/test_cellpose4.py
fi
