"""Checks a task passes before and while it is segmented: image size, finite pixels, a re-run's expectations.

Each raises :class:`~napari_batchseg.errors.InputError` saying what is wrong (the task fails, the batch
goes on); a forced re-run logs the differences as warnings instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError
from .events import Task
from .prepare import PreparedFrame
from .provenance import RunLog

__all__ = ["MIN_SIDE", "check_finite", "check_size", "verdict", "verify_start"]


#: Smallest image side each method's network accepts (measured: Cellpose 3 fails below 8 px)
MIN_SIDE = {"cellpose": 8}
#: Cellpose enlarges an image by ``model mean diameter / diameter``: at most this factor ...
MAX_ENLARGEMENT = 10.0
#: ... and to at most this many pixels (8192 x 8192; a 200 x 200 image at diameter 1 ran > 10 min, 2 GB)
MAX_RESCALED_PIXELS = 8192 * 8192


def check_size(task: Task, shape_yx: tuple[int, int], described: dict[str, Any]) -> None:
    """Refuse images the network cannot take, saying what the minimum is (before any work)."""
    method = str(described.get("method", ""))
    need = MIN_SIDE.get(method, 1)
    ny, nx = shape_yx
    if min(ny, nx) < need:
        raise InputError(
            f"{task.input}: the image is {ny} x {nx} pixels, too small for {method}: "
            f"each side must be at least {need} pixels"
        )
    diameter, diam_mean = described.get("diameter"), described.get("model_diam_mean")
    numbers = (int, float)
    if method == "cellpose" and isinstance(diameter, numbers) and isinstance(diam_mean, numbers) \
            and diameter > 0 and diam_mean > 0 and min(ny, nx) * diam_mean / diameter < 1:
        # Cellpose resizes by diam_mean / diameter first; under 1 pixel OpenCV fails
        least = int(np.ceil(diameter / diam_mean))
        raise InputError(
            f"{task.input}: the image is {ny} x {nx} pixels; at diameter {diameter:g} the model "
            f"shrinks it by {diam_mean / diameter:.3g} (model mean diameter {diam_mean:g}), so each "
            f"side must be at least {least} pixels; give a smaller diameter"
        )
    if method == "cellpose" and isinstance(diameter, numbers) and isinstance(diam_mean, numbers) \
            and diameter > 0 and diam_mean > 0:
        _check_enlargement(task, ny, nx, float(diameter), float(diam_mean))


def _check_enlargement(task: Task, ny: int, nx: int, diameter: float, diam_mean: float) -> None:
    """Refuse a diameter that would enlarge the image too much, naming the limit.

    Beyond :data:`MAX_ENLARGEMENT` or :data:`MAX_RESCALED_PIXELS` a frame runs for hours or exhausts the
    memory (a diameter of 1e-300 ended in an OverflowError, 0.01 in "out of memory").
    """
    factor = diam_mean / diameter  # inf for a diameter like 1e-320: compared, never multiplied out
    pixels = ny * nx * factor * factor if factor < MAX_ENLARGEMENT * 1e3 else float("inf")
    if factor <= MAX_ENLARGEMENT and pixels <= MAX_RESCALED_PIXELS:
        return
    least = max(diam_mean / MAX_ENLARGEMENT, diam_mean * float(np.sqrt(ny * nx / MAX_RESCALED_PIXELS)))
    size = f"{round(ny * factor)} x {round(nx * factor)} pixels" if factor < 1e6 else "an astronomical size"
    raise InputError(
        f"{task.input}: diameter {diameter:g} would rescale the {ny} x {nx} image by {factor:.3g}x "
        f"(model mean diameter {diam_mean:g}) to {size}, over the limit of a "
        f"{MAX_ENLARGEMENT:g}x enlargement and {MAX_RESCALED_PIXELS:,} pixels; give a diameter of at "
        f"least {least:.3g}"
    )


def check_finite(task: Task, frame: PreparedFrame) -> None:
    bad = int(np.size(frame.image) - np.count_nonzero(np.isfinite(frame.image)))
    if bad:
        raise InputError(
            f"{task.input}: frame t={frame.t} has {bad} pixel(s) that are NaN or infinite; the models "
            "cannot use them (replace them, e.g. by 0 or the image median, before segmenting)"
        )


def verify_start(task: Task, described: dict[str, Any], log: RunLog, notes: list[str]) -> None:
    exp = task.expect
    if exp is None:
        return
    problems = []
    if exp.input_size is not None:
        size = task.input.stat().st_size
        if size != exp.input_size:
            problems.append(f"input {task.input} changed: {size} bytes, the log recorded {exp.input_size}")
    now = described.get("weights_sha256")
    if exp.weights_sha256 and now and now != exp.weights_sha256:
        problems.append(
            f"model weights changed: sha256 {now[:12]}..., the log recorded {exp.weights_sha256[:12]}..."
        )
    verdict(task, problems, log, notes)


def verdict(task: Task, problems: list[str], log: RunLog, notes: list[str]) -> None:
    if not problems:
        return
    if not task.expect or not task.expect.force:
        raise InputError("; ".join(problems) + " (nothing written; --force runs anyway)")
    for text in problems:
        log.warning(f"forced re-run: {text}")
        notes.append(text)
