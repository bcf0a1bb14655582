#!/usr/bin/env bash
# Create .venv (if needed) and install napari-batchseg with everything its tests need.
#   scripts/setup.sh            core + napari + Qt + Dask + test tools
#   SAM=0 scripts/setup.sh      skip the optional micro-sam extra
# torch is pinned first: an unpinned torch would pull several GB of CUDA packages on Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
python -m pip install -q -e ".[cp3,napari,qt,dask,tracking,formats,testing]"  # cp3: Cellpose 3 (README, "Cellpose 3 or Cellpose 4")
if [ "${SAM:-1}" = "1" ]; then
  bash scripts/install_microsam.sh
fi
python -c "import napari_batchseg, cellpose, torch; print('napari-batchseg', napari_batchseg.__version__, '| cellpose', cellpose.version, '| torch', torch.__version__)"
