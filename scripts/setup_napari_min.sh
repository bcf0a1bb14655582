#!/usr/bin/env bash
# Create .venv-napari-min: napari-batchseg (Cellpose 3) with the OLDEST napari it declares (`napari>=X` in
# pyproject.toml's napari extra), for the widget tests against the oldest napari as well as the newest
# (scripts/test.sh, part "widget tests (.venv-napari-min ...)"; issue 20).
#   scripts/setup_napari_min.sh                         napari == the declared minimum
#   NAPARI_VERSION=0.6.0 scripts/setup_napari_min.sh    another napari (e.g. to find the oldest that passes)
#   VENV=path scripts/setup_napari_min.sh               another folder (default .venv-napari-min)
# torch is pinned first, as in scripts/setup.sh (an unpinned torch pulls several GB of CUDA packages on
# Linux). No micro-sam: the widget tests do not need it (scripts/test.sh runs them here with SAM=0).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv-napari-min}
# the declared minimum, read from pyproject.toml (one source): "napari>=0.5" -> 0.5 (pip: == 0.5.0)
DECLARED=$("$PY" - <<'EOF'
import re, tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["napari"]
print(next(re.fullmatch(r"napari>=([\d.]+)", d.replace(" ", "")).group(1) for d in extra if d.startswith("napari")))
EOF
)
WANT=${NAPARI_VERSION:-$DECLARED}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
python -m pip install -q -e ".[cp3,napari,qt,dask,tracking,formats,testing]" "napari==${WANT}"
python - "$WANT" <<'EOF'
import sys
from importlib.metadata import version
import napari_batchseg, napari, cellpose
want = sys.argv[1]
got = version("napari")
print("napari-batchseg", napari_batchseg.__version__, "| napari", got, "| cellpose", cellpose.version)
def release(v: str) -> tuple[int, ...]:  # "0.5" and "0.5.0" alike
    nums = [int(x) for x in v.split(".")[:3]]
    return tuple(nums + [0] * (3 - len(nums)))
assert release(got) == release(want), f"napari {got} installed, {want} wanted"
EOF
