#!/usr/bin/env bash
# On the GPU machine, after display.sh's batchseg_display_unpack: bench_ui.py on the GPU display and on
# software OpenGL (Mesa llvmpipe) on the same machine, both on two cores like the development machine,
# then with the real Cellpose model on the GPU, then bench_parallel.py --gpu.
# Usage: run_bench_ui.sh SITE312.tar.xz [stacks | events | ab OLD_SRC [N] | repeat N | stills [N]]
#   (figures in $OUT)
#   stacks: only the GPU display run, with --stacks --stacks-by-total (what the GUI thread did during the
#           longest stalls); events: the same with --events (the Qt events handled during them)
#   ab:     N pairs (default 2) of GPU display runs alternating this checkout's src and OLD_SRC (an older
#           src folder); repeat: N GPU display runs, then one with the real Cellpose model (16 cores);
#   stills: N (default 2) GPU display runs of the plate scenario (--stills 24 --delay 0.15)
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/display.sh"
out=${OUT:-/tmp/bench-ui-out}
[ -d "$BATCHSEG_X/extra" ] || { echo "no X stack in $BATCHSEG_X: run batchseg_display_unpack first"; exit 1; }
mkdir -p /tmp/site "$out" && tar -xJf "$1" -C /tmp/site || exit 1
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
batchseg_display_start || exit 1
python3 -c "import napari, PyQt6.QtWidgets, napari_batchseg._napari._widget; print('napari', napari.__version__)" ||
    exit 1
summary() {
    python3 - "$1" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
keep = ("gl_renderer", "longest_stall_ms", "p99_ms", "stalls_over_50ms", "stalls_over_16ms", "after_open",
        "after_open_without_composition", "by_step", "load_average_1_5_15", "cpus", "widget_open_s",
        "startup_work_done_s", "full_gc_ms_after_open", "run_s", "segmenter", "frames", "statuses")
print(json.dumps({k: f.get(k) for k in keep}))
PY
}
bench() {
    local name=$1; shift
    echo "=== $name"
    timeout 240 "$@" benchmarks/bench_ui.py ${EXTRA:-} --json "$out/$name.json" > "$out/$name.txt" 2>&1
    echo "rc $?"
    [ -s "$out/$name.json" ] && summary "$out/$name.json" || tail -30 "$out/$name.txt"
}
if [ "${2:-}" = ab ]; then
    for i in $(seq "${4:-2}"); do
        bench "gpu_new_$i" env __GLX_VENDOR_LIBRARY_NAME=nvidia taskset -c 0,1 python3
        bench "gpu_old_$i" env PYTHONPATH="/tmp/site:$(realpath "$3")" __GLX_VENDOR_LIBRARY_NAME=nvidia \
            taskset -c 0,1 python3
    done
    exit 0
fi
if [ "${2:-}" = repeat ]; then
    for i in $(seq "${3:-3}"); do
        bench "gpu_2cores_$i" env __GLX_VENDOR_LIBRARY_NAME=nvidia taskset -c 0,1 python3
    done
    EXTRA="--model examples/models/batchseg_nuclei_cp3" bench gpu_model env __GLX_VENDOR_LIBRARY_NAME=nvidia python3
    exit 0
fi
if [ "${2:-}" = stills ]; then
    for i in $(seq "${3:-2}"); do
        EXTRA="--stills 24 --delay 0.15" bench "gpu_stills_$i" env __GLX_VENDOR_LIBRARY_NAME=nvidia \
            taskset -c 0,1 python3
    done
    exit 0
fi
if [ "${2:-}" = events ]; then
    EXTRA="--events" bench gpu_2cores_events env __GLX_VENDOR_LIBRARY_NAME=nvidia taskset -c 0,1 python3
    grep -A400 '^--- ' "$out/gpu_2cores_events.txt" | cut -c1-300 | head -120
    exit 0
fi
if [ "${2:-}" = stacks ]; then
    EXTRA="--stacks --stacks-by-total" bench gpu_2cores_stacks env __GLX_VENDOR_LIBRARY_NAME=nvidia taskset -c 0,1 python3
    grep -A400 '^--- ' "$out/gpu_2cores_stacks.txt" | cut -c1-600 | head -150
    exit 0
fi
bench gpu_2cores env __GLX_VENDOR_LIBRARY_NAME=nvidia taskset -c 0,1 python3
bench mesa_2cores env LP_NUM_THREADS=2 taskset -c 0,1 python3
bench gpu_2cores_again env __GLX_VENDOR_LIBRARY_NAME=nvidia taskset -c 0,1 python3
EXTRA="--model examples/models/batchseg_nuclei_cp3" bench gpu_model env __GLX_VENDOR_LIBRARY_NAME=nvidia python3
echo "=== bench_parallel --gpu --frames 64 (no display needed)"
timeout 180 python3 benchmarks/bench_parallel.py --gpu --frames 64 > "$out/gpu_parallel.txt" 2>&1
echo "rc $?"; tail -25 "$out/gpu_parallel.txt"
