"""Real inputs for the measure/export/evaluate tests, made once per test session.

The ND2 time-lapse (real E. coli GFP movie, pixel size 0.325 µm) and the DSB2018 nuclei image are
segmented by the project's own model through the public API; nothing here is synthetic.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ND2 = EXAMPLES / "data" / "arcadia_ecoli_gfp_timelapse.nd2"
DSB_IMAGE = EXAMPLES / "data" / "dsb2018_nuclei.tif"
DSB_GT = EXAMPLES / "groundtruth" / "dsb2018_nuclei_masks.tif"
MODEL = EXAMPLES / "models" / "batchseg_nuclei_cp3"


@functools.cache
def _workdir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="batchseg-downstream-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@functools.cache
def segmented(name: str) -> Path:
    """The project's segmentation of ``"nd2"`` (frames 0-2) or ``"dsb"``: the ``_vSM.ome.tif`` path."""
    from napari_batchseg import SegmentationParams, segment_files

    src = {"nd2": ND2, "dsb": DSB_IMAGE}[name]
    out = _workdir() / name
    params = SegmentationParams(model=str(MODEL), start_frame=0, end_frame=2, output_dir=str(out))
    summary = segment_files([src], params)
    assert summary.ok, summary.to_frame()
    (report,) = summary.reports
    assert report.mask is not None
    return Path(report.mask)
