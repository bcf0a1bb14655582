#!/usr/bin/env bash
# Type-check src/ with mypy; the configuration (strictness, per-module overrides) is [tool.mypy] in
# pyproject.toml. CI runs the same check through tests/test_typecheck.py.
#   scripts/typecheck.sh                 whole of src/
#   scripts/typecheck.sh src/x.py ...    only the given files (same configuration)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
exec "$PY" -m mypy "$@"
