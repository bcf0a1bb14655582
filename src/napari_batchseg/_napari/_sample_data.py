"""npe2 sample data: a small real fluorescence image of nuclei (DSB2018), shipped in the wheel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tifffile

DATA = Path(__file__).resolve().parents[1] / "_data"
ATTRIBUTION = (
    "DSB2018 nuclei image (Kaggle 2018 Data Science Bowl, stage 1 training set, CC0), "
    "as shipped with stardist 0.9.2 (BSD-3-Clause)"
)


def nuclei_sample() -> list[tuple[Any, dict[str, Any], str]]:
    """The 512x512 nuclei image and its ground-truth labels (hidden)."""
    meta = {"batchseg": {"role": "sample", "attribution": ATTRIBUTION}}
    return [
        (tifffile.imread(DATA / "dsb2018_nuclei.tif"), {"name": "nuclei_BF", "metadata": meta}, "image"),
        (
            tifffile.imread(DATA / "dsb2018_nuclei_masks.tif").astype("uint16"),
            {"name": "nuclei ground truth", "metadata": meta, "visible": False},
            "labels",
        ),
    ]
