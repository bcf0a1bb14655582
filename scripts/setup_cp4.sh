#!/usr/bin/env bash
# Create .venv-cp4: napari-batchseg with Cellpose 4 (Cellpose-SAM) instead of Cellpose 3, for the tests and
# benchmarks of both majors (one Cellpose is installed per environment; README, "Cellpose 3 or Cellpose 4").
#   scripts/setup_cp4.sh              core + Cellpose 4 + Dask + test tools + micro-sam (see below)
#   SAM=0 scripts/setup_cp4.sh        without micro-sam
#   NAPARI=1 scripts/setup_cp4.sh     also the napari and Qt extras
#   VENV=path scripts/setup_cp4.sh    another folder (default .venv-cp4)
# torch and the torchvision built for it are pinned first: Cellpose 4 requires torchvision, and an
# unpinned torchvision pulls a newer torch (with several GB of CUDA packages on Linux).
# micro-sam beside Cellpose 4: both want the module `segment_anything`, micro-sam from the
# `segment-anything-py` distribution (a fork with fixes micro-sam relies on), Cellpose 4 from
# `segment_anything` (Meta's 1.0). Cellpose 4 uses only the image encoder, whose code is the same in both,
# so scripts/install_microsam.sh installs segment-anything-py after Cellpose 4: its files replace the
# module's, both distributions stay recorded (pip check is content), and both packages work. Do not
# uninstall either distribution afterwards: that deletes the shared module (reinstall the other then).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv-cp4}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
TORCH=${TORCH_VERSION:-2.13.0}
TV=$(python -c "v = '$TORCH'.split('.'); print(f'0.{int(v[1]) + 15}.*')")
python -m pip install -q "torch==${TORCH}" "torchvision==${TV}"
EXTRAS="cp4,dask,testing"  # dask: the runner tests run here too (scripts/test.sh)
[ "${NAPARI:-0}" = "1" ] && EXTRAS="$EXTRAS,napari,qt"
python -m pip install -q -e ".[${EXTRAS}]"
if [ "${SAM:-1}" = "1" ]; then
  PYTHON=python bash scripts/install_microsam.sh
fi
python -c "import napari_batchseg, cellpose, torch; print('napari-batchseg', napari_batchseg.__version__, '| cellpose', cellpose.version, '| torch', torch.__version__)"
python -c "import cellpose; assert cellpose.version.startswith('4.'), cellpose.version"
