"""Import torchvision even where its compiled operators cannot be loaded.

torchvision wheels on PyPI are CUDA builds. Next to a CPU-only torch (``torch==X+cpu``) their compiled
extension (``torchvision/_C.so``) cannot be loaded (it links ``libc10_cuda.so``), and recent
torchvision versions then fail at import time with ``RuntimeError: operator torchvision::nms does not
exist``. micro-sam and Segment Anything need only one of those compiled operators: non-maximum
suppression (``torchvision.ops.nms`` / ``batched_nms``).

:func:`ensure_torchvision` imports torchvision normally. Only when the real ``torchvision::nms``
operator is absent does it register a pure-torch replacement under the same name (the schema that
torchvision's own fake/meta registrations expect, plus ``qnms`` which torchvision also registers at
import time) and lets ``torchvision.ops.boxes`` use it. Every other compiled torchvision operator
(``roi_align``, ``deform_conv2d``, ...) keeps torchvision's own "Couldn't load custom C++ ops" error.
Where torchvision's real operators load (a CPU torchvision next to a CPU torch, or CUDA builds of
both), nothing is replaced: :func:`shim_active` then returns ``False``.

Set ``BATCHSEG_TORCHVISION_SHIM=0`` to forbid the replacement (torchvision's own error is raised).
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from types import ModuleType

import numpy as np
import torch

__all__ = ["ensure_torchvision", "nms_reference", "real_nms_available", "shim_active"]

_LOCK = threading.Lock()
_LIBRARY: torch.library.Library | None = None  # kept alive: dropping it would unregister the ops
_SHIM_ACTIVE = False
_NMS_SCHEMA = "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
_QNMS_SCHEMA = "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"


def real_nms_available() -> bool:
    """Whether an operator ``torchvision::nms`` is registered with torch (not counting this shim)."""
    if _SHIM_ACTIVE:
        return False
    return _op_defined("torchvision::nms") and bool(torch._C._dispatch_has_kernel("torchvision::nms"))


def _op_defined(qualname: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(qualname, "")
    except RuntimeError:
        return False
    return True


def shim_active() -> bool:
    """Whether the pure-torch ``torchvision::nms`` replacement is in use in this process."""
    return _SHIM_ACTIVE


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression with the semantics of torchvision's CPU kernel.

    Boxes are ``(x1, y1, x2, y2)``; a box is dropped when its IoU with an already kept, higher-scoring
    box is strictly greater than ``iou_threshold``. Scores are sorted stably in descending order; the
    arithmetic is done in the boxes' floating dtype (integer boxes in float64). Returns the kept
    indices (int64, on the boxes' device) in decreasing score order.
    """
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise RuntimeError(f"boxes should be a 2d tensor of shape [N, 4], got {tuple(boxes.shape)}")
    if scores.dim() != 1 or scores.shape[0] != boxes.shape[0]:
        raise RuntimeError(
            f"scores should be a 1d tensor with {boxes.shape[0]} elements, got {tuple(scores.shape)}"
        )
    device = boxes.device
    n = boxes.shape[0]
    if n == 0:
        return torch.empty((0,), dtype=torch.int64, device=device)
    b = boxes.detach().cpu()
    if not b.is_floating_point():
        b = b.to(torch.float64)
    elif b.dtype in (torch.float16, torch.bfloat16):
        b = b.to(torch.float32)
    arr = b.numpy()
    dtype = arr.dtype.type
    thr = dtype(iou_threshold)
    order = torch.sort(scores.detach().cpu(), dim=0, descending=True, stable=True).indices.numpy()
    x1, y1, x2, y2 = (np.ascontiguousarray(arr[order, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(n, dtype=bool)
    keep: list[int] = []
    zero = dtype(0)
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        if i + 1 == n:
            break
        rest = slice(i + 1, n)
        w = np.maximum(zero, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(zero, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest] |= iou > thr
    kept = order[np.asarray(keep, dtype=np.int64)]
    return torch.from_numpy(kept.astype(np.int64)).to(device)


def _qnms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    return nms_reference(boxes.to(torch.float64), scores.to(torch.float64), iou_threshold)


def _install_shim() -> None:
    """Register ``torchvision::nms`` and ``torchvision::qnms`` as pure-torch operators."""
    global _LIBRARY, _SHIM_ACTIVE
    lib = torch.library.Library("torchvision", "FRAGMENT")  # noqa: TOR901
    lib.define(_NMS_SCHEMA)
    lib.impl("nms", nms_reference, "CompositeExplicitAutograd")
    if not _op_defined("torchvision::qnms"):
        lib.define(_QNMS_SCHEMA)
        lib.impl("qnms", _qnms_reference, "CompositeExplicitAutograd")
    _LIBRARY = lib
    _SHIM_ACTIVE = True


def _purge_partial_import() -> None:
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]


def _allow_nms_in_boxes(tv: ModuleType) -> None:
    """Let ``torchvision.ops.boxes.nms`` run although torchvision's ``_C`` is not loaded.

    ``nms`` first calls ``_assert_has_ops()``, which checks that torchvision's compiled library loaded.
    Only the ``boxes`` module's reference is replaced, so all other compiled operators still raise
    torchvision's own error.
    """
    import torchvision.ops.boxes as boxes

    def _assert_nms_available() -> None:
        if not (_SHIM_ACTIVE or tv.extension._has_ops()):
            tv.extension._assert_has_ops()

    boxes._assert_has_ops = _assert_nms_available


def ensure_torchvision() -> ModuleType:
    """Import and return ``torchvision``, replacing ``torchvision::nms`` only where it is missing.

    Raises
    ------
    ImportError
        torchvision is not installed.
    RuntimeError
        torchvision cannot be imported for another reason, or its operators are missing and
        ``BATCHSEG_TORCHVISION_SHIM=0`` forbids the replacement.
    """
    with _LOCK:
        loaded = sys.modules.get("torchvision")
        if loaded is not None and hasattr(loaded, "ops") and (_SHIM_ACTIVE or real_nms_available()):
            return loaded
        allowed = os.environ.get("BATCHSEG_TORCHVISION_SHIM", "1").strip().lower() not in (
            "0",
            "false",
            "no",
            "off",
        )
        try:
            tv = importlib.import_module("torchvision")
        except RuntimeError as exc:
            if "torchvision::" not in str(exc) or not allowed or real_nms_available():
                raise
            # The compiled extension did not load, and torchvision's import-time registrations
            # failed on the missing operator: register the replacement, then import again.
            _purge_partial_import()
            _install_shim()
            tv = importlib.import_module("torchvision")
        else:
            # Older torchvision versions import without their compiled ops and fail only on use.
            if not real_nms_available() and not _SHIM_ACTIVE and allowed:
                _install_shim()
        if _SHIM_ACTIVE:
            _allow_nms_in_boxes(tv)
        return tv
