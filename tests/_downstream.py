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
def segmented(name: str, start: int = 0, end: int = 2) -> Path:
    """The project's segmentation of ``"nd2"`` (frames ``start``-``end``, default 0-2) or ``"dsb"``.

    Returns the ``_vSM.ome.tif`` path (each frame range in its own folder).
    """
    from napari_batchseg import SegmentationParams, segment_files

    src = {"nd2": ND2, "dsb": DSB_IMAGE}[name]
    out = _workdir() / (name if (start, end) == (0, 2) else f"{name}_{start}-{end}")
    params = SegmentationParams(model=str(MODEL), start_frame=start, end_frame=end, output_dir=str(out))
    summary = segment_files([src], params)
    assert summary.ok, summary.to_frame()
    (report,) = summary.reports
    assert report.mask is not None
    return Path(report.mask)


def eval_folders(root: Path, preds: dict[str, Path] | None = None,
                 truths: dict[str, Path] | None = None) -> tuple[Path, Path]:
    """``(pred, gt)`` folders under ``root`` holding the DSB2018 segmentation and its annotation.

    ``preds`` / ``truths`` add files (name -> file copied) to either folder.
    """
    pred_dir, gt_dir = root / "pred", root / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    dsb = segmented("dsb")
    for folder, files in ((pred_dir, {dsb.name: dsb, **(preds or {})}),
                          (gt_dir, {DSB_GT.name: DSB_GT, **(truths or {})})):
        for name, source in files.items():
            (folder / name).write_bytes(source.read_bytes())
    return pred_dir, gt_dir
