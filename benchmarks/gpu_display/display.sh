#!/usr/bin/env bash
# A virtual X display whose OpenGL runs on an NVIDIA GPU, on a machine with no display and no package
# registry (how docs/performance.md's "GPU display" figures were taken). Source this file, then:
#   batchseg_display_unpack XSTACK.tar.xz…  # once per machine: Xvfb, Mesa, X/xcb/font libraries (pack.sh)
#   batchseg_display_start                  # Xvfb on :99, environment for Qt/napari
#   batchseg_display_probe                  # which OpenGL renderer GLX gives, Mesa's and NVIDIA's
# With __GLX_VENDOR_LIBRARY_NAME=nvidia, GLX clients (napari's canvas) draw with the GPU; without it
# they draw with Mesa's llvmpipe (software), as under a plain Xvfb.
BATCHSEG_X=${BATCHSEG_X:-/tmp/batchseg-x}

batchseg_display_unpack() {
    local archive
    mkdir -p "$BATCHSEG_X/extra"
    for archive in "$@"; do tar -xJf "$archive" -C "$BATCHSEG_X" || return 1; done
    ldconfig -p | awk 'NR > 1 {print $1}' | sort -u > "$BATCHSEG_X/have.txt"
    local d f name
    for d in "$BATCHSEG_X/usr/lib/x86_64-linux-gnu" "$BATCHSEG_X/lib/x86_64-linux-gnu"; do
        [ -d "$d" ] || continue
        for f in "$d"/lib*.so.*; do
            name=$(basename "$f")
            [[ $name =~ \.so\.[0-9]+$ ]] || continue  # sonames only (libxcb.so.1, not libxcb.so.1.1.0)
            # a library the system lacks is linked in; one it has is left to the system's (newer) copy
            grep -qx "$name" "$BATCHSEG_X/have.txt" || ln -sf "$f" "$BATCHSEG_X/extra/$name"
        done
    done
    # ctypes.util.find_library (vispy's fontconfig, PyOpenGL) reads the linker cache, not LD_LIBRARY_PATH
    echo "$BATCHSEG_X/extra" > /etc/ld.so.conf.d/zz-batchseg-x.conf && ldconfig
    # Xvfb looks for its GLX driver, xkbcomp and the keyboard data at fixed system paths
    mkdir -p /usr/lib/x86_64-linux-gnu/dri /usr/share/X11
    [ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ] ||
        ln -sfn "$BATCHSEG_X/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so" /usr/lib/x86_64-linux-gnu/dri/
    [ -e /usr/bin/xkbcomp ] || ln -sfn "$BATCHSEG_X/usr/bin/xkbcomp" /usr/bin/xkbcomp
    [ -e /usr/share/X11/xkb ] || ln -sfn "$BATCHSEG_X/usr/share/X11/xkb" /usr/share/X11/xkb
    ls "$BATCHSEG_X/extra" | wc -l | xargs echo "libraries linked in:"
}

batchseg_display_env() {
    local nv
    nv=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib -maxdepth 3 \
        -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)
    nv=${nv:+$(dirname "$nv")}
    echo "NVIDIA GLX library in: ${nv:-none found}"
    export LD_LIBRARY_PATH="$BATCHSEG_X/extra${nv:+:$nv}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LIBGL_DRIVERS_PATH="$BATCHSEG_X/usr/lib/x86_64-linux-gnu/dri"
    mkdir -p /tmp/fc-cache
    cat > "$BATCHSEG_X/fonts.conf" <<CONF
<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>$BATCHSEG_X/usr/share/fonts</dir><dir>/usr/share/fonts</dir><cachedir>/tmp/fc-cache</cachedir></fontconfig>
CONF
    export FONTCONFIG_FILE="$BATCHSEG_X/fonts.conf"
    export DISPLAY=:99 QT_QPA_PLATFORM=xcb XDG_RUNTIME_DIR=/tmp/xdg-runtime
    mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
}

batchseg_display_start() {
    batchseg_display_env
    pgrep -f "Xvfb :99" >/dev/null && return 0
    rm -f /tmp/.X11-unix/X99 /tmp/.X99-lock
    "$BATCHSEG_X/usr/bin/Xvfb" :99 -screen 0 1600x1000x24 -nolisten tcp > /tmp/xvfb.log 2>&1 &
    local i
    for i in $(seq 50); do [ -S /tmp/.X11-unix/X99 ] && break; sleep 0.2; done
    [ -S /tmp/.X11-unix/X99 ] || { echo "Xvfb did not start:"; cat /tmp/xvfb.log; return 1; }
    echo "Xvfb up"
}

batchseg_display_probe() {
    local glxinfo
    glxinfo=$(ls "$BATCHSEG_X"/usr/bin/glxinfo* | head -1)
    echo "--- Mesa (software):"
    "$glxinfo" -B 2>&1 | grep -i -e "renderer" -e "version string" -e error | head -4
    echo "--- NVIDIA:"
    __GLX_VENDOR_LIBRARY_NAME=nvidia "$glxinfo" -B 2>&1 |
        grep -i -e "renderer" -e "version string" -e error -e direct | head -5
}
