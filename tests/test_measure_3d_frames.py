"""Measuring a volume mask against an input given by hand: its frames must be the input's.

A review: ``start_frame`` past the input's frames (``measure_file(vol, image=..., start_frame=2)`` for 2
volumes of a 3-frame input) raised ``IndexError: T index 3 out of range`` from the reader, after the first
volume had been measured, where a 2D mask says in one line which frames do not fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_batchseg.errors import InputError
from napari_batchseg.measure import measure_file


def _files(folder: Path) -> tuple[Path, Path]:
    labels = np.zeros((2, 4, 16, 16), np.uint16)
    labels[:, 1:3, 4:8, 4:8] = 1
    tifffile.imwrite(folder / "vol.ome.tif", labels, metadata={"axes": "TZYX"})
    image = np.random.default_rng(0).integers(0, 1000, (3, 4, 16, 16)).astype(np.uint16)
    tifffile.imwrite(folder / "img.ome.tif", image, metadata={"axes": "TZYX"})
    return folder / "vol.ome.tif", folder / "img.ome.tif"


def test_volumes_past_the_inputs_last_frame_are_refused_naming_both_files(tmp_path: Path) -> None:
    mask, image = _files(tmp_path)
    fits = measure_file(mask, image=image, start_frame=1, force_labels=True)  # frames 1-2 of 0-2
    assert fits.n_frames == 2
    with pytest.raises(InputError, match=r"vol\.ome\.tif: mask has 2 volume\(s\) from frame 2 but its input "
                                         r".*img\.ome\.tif has 3 frame\(s\)"):
        measure_file(mask, image=image, start_frame=2, force_labels=True, overwrite=True)
    assert fits.objects_csv.read_text().count("\n") == 3  # the earlier tables, header and two rows, kept
