#!/usr/bin/env bash
# Build the two bundles that display.sh and run_bench_ui.sh use on a GPU machine with no registry:
#   $1/xstack.tar.xz  Xvfb, Mesa (Xvfb's GLX needs it), the X/xcb/font libraries Qt needs (Debian packages)
#   $1/site312.tar.xz napari, PyQt6 (only the Qt libraries napari needs), Cellpose 3 and the rest of this
#                     project's dependencies that such a machine's Python 3.12 lacks (wheels; no torch/numpy)
# Usage: benchmarks/gpu_display/pack.sh OUTDIR [FREEZE]   FREEZE: `pip freeze` of this project's venv
set -euo pipefail
out=$(realpath "$1"); freeze=${2:-}
work=$(mktemp -d)
here=$(cd "$(dirname "$0")" && pwd)

# --- the X stack
mkdir -p "$work/debs" "$work/xs" && cd "$work/debs"
apt-get download $(cat "$here/debs.txt") >/dev/null
for f in *.deb; do dpkg -x "$f" "$work/xs"; done
cd "$work/xs"
rm -rf usr/share/doc usr/share/man usr/share/lintian usr/share/locale usr/share/bug usr/share/info
find usr/lib/x86_64-linux-gnu/dri -name '*.so' ! -name swrast_dri.so -delete
find usr/bin -mindepth 1 | grep -v -e /Xvfb -e /xkbcomp -e /glxinfo | xargs rm -f
tar -cf - . | xz -T0 -9 > "$out/xstack.tar.xz"

# --- the Python packages (Python 3.12, manylinux x86-64)
if [ -n "$freeze" ]; then
    plat=(--platform manylinux_2_35_x86_64 --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
    grep -i -f <(sed 's/-/[-_.]/g; s/^/^/; s/$/==/' "$here/wheels.txt") "$freeze" > "$work/want.txt"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${plat[@]}" -d "$work/whl" -r "$work/want.txt"
    python3 -m pip install -q --no-deps --no-index --no-compile --target "$work/site" --python-version 3.12 \
        --implementation cp --only-binary=:all: "${plat[@]}" "$work"/whl/*.whl
    cd "$work/site/PyQt6"
    keep=" QtCore QtGui QtWidgets QtOpenGL QtOpenGLWidgets QtSvg QtSvgWidgets QtDBus QtNetwork QtPrintSupport QtTest QtXml "
    for f in *.abi3.so; do m=${f%.abi3.so}; [[ $keep == *" $m "* ]] || rm -f "$f" "$m.pyi"; done
    rm -rf Qt6/qml Qt6/qsci Qt6/translations
    (cd Qt6/plugins && ls | grep -v -x -e platforms -e xcbglintegrations -e imageformats -e iconengines |
        xargs rm -rf; rm -f imageformats/libqpdf.so; ls platforms/* | grep -v -e xcb -e offscreen | xargs rm -f)
    python3 "$here/qt_libs_needed.py" "$work/site/PyQt6"
    cd "$work/site" && find . -type d \( -name tests -o -name __pycache__ \) -prune -exec rm -rf {} +
    tar -cf - . | xz -T0 -9 > "$out/site312.tar.xz"
fi
rm -rf "$work"
ls -la "$out"
