#!/usr/bin/env bash
# Optional micro-sam extra, installed without touching torch (see docs/microsam.md, "Install").
# micro-sam's declared requirements pull napari, PyQt6, trackastra, bioimageio.core and an unpinned
# torchvision whose newest wheel needs a newer torch: a plain `pip install micro_sam` replaces a
# CPU-only torch with a CUDA build. So the packages that micro-sam's segmentation code imports are
# installed one by one: --no-deps for those that depend on torch, normally for the others.
# The second step also installs the rest of what micro-sam, torch_em and python-elf declare (trackastra,
# bioimageio.core, timm, skan, mrcfile, tensorboard, PyQt6; none of them replaces torch, and trackastra is
# used for tracking), so pip's resolver finds nothing missing and prints no "dependency conflicts" ERROR.
set -euo pipefail
PY=${PYTHON:-python}
TV=$("$PY" -c "import torch; v = torch.__version__.split('+')[0].split('.'); print(f'0.{int(v[1]) + 15}.*')")
"$PY" -m pip install -q --no-deps "micro_sam==1.8.14" "segment-anything-py==1.0.1" "torch_em==0.10.9" \
    "python-elf==0.9.2" "kornia==0.9.0" "torchvision==${TV}"
# What is installed already keeps its requirements: named again here, pip's resolver sees them (timm's newest
# huggingface_hub needs click>=8.4, the tracking extra's traccuracy click<8.2: a conflict pip only reported).
KEEP=$("$PY" -m pip list --format=freeze 2>/dev/null | grep -iE '^(traccuracy|laptrack)==' || true)
# shellcheck disable=SC2086  # KEEP: zero or more requirement words
"$PY" -m pip install -q $KEEP "bioimage-cpp==0.10.0" kornia_rs xxhash "zarr>=3" h5py threadpoolctl matplotlib \
    scikit-learn xarray pooch imageio tqdm \
    "trackastra==0.5.6" "bioimageio.core==0.11.0" "timm==1.0.31" "skan==0.13.1" mrcfile tensorboard PyQt6
"$PY" -c "from napari_batchseg.segmenters.microsam import _import_microsam; _import_microsam(); import torch; print('micro-sam OK, torch', torch.__version__)"
