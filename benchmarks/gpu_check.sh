#!/usr/bin/env bash
# The checks that need a CUDA GPU, on a lent GPU machine with no registry (Python 3.12 + torch with CUDA):
# device detection, the bundled example data segmented on CPU and on the GPU (frames batched, the GPU
# default, and one frame per call) with the masks compared, and the device tests with CUDA present.
# Usage: benchmarks/gpu_check.sh SITE312.tar.xz   (the wheels bundle of gpu_display/pack.sh; output in $OUT)
#        PY=.venv/bin/python benchmarks/gpu_check.sh -   (this project's venv, no bundle)
set -u
out=${OUT:-/tmp/gpu-check}
py=${PY:-python3}
mkdir -p "$out"
if [ "$1" != - ]; then
    mkdir -p /tmp/site && { [ -d /tmp/site/napari ] || tar -xJf "$1" -C /tmp/site || exit 1; }
    export PYTHONPATH=/tmp/site:$PWD/src
fi
export PYTHONUNBUFFERED=1
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
$py -c "from napari_batchseg.devices import pick_device as p; c = p(True); print('pick_device(True):', c.description, c.warning)"
model=examples/models/batchseg_nuclei_cp3
run() {  # name, extra CLI options
    local name=$1; shift
    local t0 rc
    t0=$(date +%s%N)
    timeout 120 $py -m napari_batchseg.cli segment examples/data --model $model --output-dir "$out/$name" \
        --existing overwrite "$@" > "$out/$name.txt" 2>&1
    rc=$?
    echo "$name: rc $rc in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    tail -3 "$out/$name.txt"
}
run cpu --no-gpu
run gpu --gpu
run gpu_1frame --gpu --batch-frames 1
$py - "$out" <<'PY'
import json, sys
from pathlib import Path
import numpy as np
import tifffile
out = Path(sys.argv[1])
for mask in sorted((out / "cpu").glob("*_vSM.ome.tif")):
    ref = tifffile.imread(mask)
    for other in ("gpu", "gpu_1frame"):
        m = tifffile.imread(out / other / mask.name)
        log = (out / other / mask.name.replace(".ome.tif", ".log")).read_text()
        seg = next(json.loads(line.split("segmenter: ", 1)[1]) for line in log.splitlines() if "segmenter: {" in line)
        device = f"{seg.get('device')}, frames per call {seg.get('frames_per_call', 1)}"
        counts = [(int(r.max()), int(g.max())) for r, g in zip(ref.reshape(-1, *ref.shape[-2:]),
                                                                m.reshape(-1, *m.shape[-2:]))]
        print(f"{mask.name} vs {other}: shape {m.shape}, pixels with the same fg/bg "
              f"{np.mean((ref > 0) == (m > 0)):.5f}, identical labels {np.array_equal(ref, m)}, "
              f"objects cpu/gpu (first frames) {counts[:4]}, log: {device.strip()}")
PY
timeout 200 $py -m pytest -q -p no:cacheprovider -p no:napari -m "not slow" tests/test_devices.py tests/test_session.py \
    tests/test_cellpose_segmenter.py tests/test_runners.py -k "not dask" 2>&1 | tail -8
