"""A real time-lapse mask of input frames 10-13 (for the time and frame tests), made once per session.

The bundled ND2 movie (E. coli GFP, 0.325 µm pixels, one frame every 0.50016 s as the microscope
recorded it) is segmented by the project's own model through the public API; nothing is synthetic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from _downstream import ND2, segmented

FIRST, LAST = 10, 13


def nd2_time_increment() -> float:
    """Mean interval between the ND2's frames, from the nd2 library's own event table (seconds)."""
    import nd2

    with nd2.ND2File(ND2) as f:
        times = np.asarray(f.events(orient="list")["Time [s]"], dtype=float)
    return float(np.diff(times).mean())


def frames_10_13() -> Path:
    """The ``_vSM.ome.tif`` of input frames 10-13 of the ND2 movie (made once, by ``segmented``)."""
    return segmented("nd2", FIRST, LAST)


def logless_copy(folder: Path) -> tuple[Path, np.ndarray]:
    """``bare_masks.tif`` in ``folder``: the labels of :func:`frames_10_13` as a plain TYX TIFF, no log."""
    import tifffile

    from napari_batchseg.io.masks import read_mask

    labels = read_mask(frames_10_13()).labels
    bare = folder / "bare_masks.tif"
    tifffile.imwrite(bare, labels, metadata={"axes": "TYX"})
    return bare, labels
