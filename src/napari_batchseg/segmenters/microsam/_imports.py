"""Import micro-sam (an optional extra) or say clearly how to install it.

micro-sam needs torchvision, whose PyPI wheels do not load next to a CPU-only torch; the documented
compatibility step in :mod:`._torchvision_compat` makes the one operator micro-sam needs available.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from typing import Any

from ...errors import ModelError

__all__ = ["INSTALL_HINT", "import_microsam", "microsam_available"]

INSTALL_HINT = (
    "install the optional extra with `pip install 'napari-batchseg[sam]'`; next to a CPU-only torch "
    "use the commands in docs/microsam.md (section 'Install'), which keep torch as it is"
)


def microsam_available() -> bool:
    """Whether the ``micro_sam`` package is installed (without importing it)."""
    try:
        return importlib.util.find_spec("micro_sam") is not None
    except (ImportError, ValueError):
        return False


def import_microsam() -> tuple[Any, Any]:
    """Import ``micro_sam.util`` and ``micro_sam.instance_segmentation`` or raise a clear ModelError."""
    if sys.modules.get("micro_sam", False) is None or not microsam_available():
        raise ModelError(f"method 'sam' needs the micro-sam package, which is not installed: {INSTALL_HINT}")
    from ._torchvision_compat import ensure_torchvision

    try:
        ensure_torchvision()
    except ImportError as exc:
        raise ModelError(
            f"method 'sam' needs torchvision, which is not installed ({exc}): {INSTALL_HINT}"
        ) from exc
    except RuntimeError as exc:
        raise ModelError(f"method 'sam': torchvision cannot be imported: {exc}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from micro_sam import instance_segmentation, util
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        raise ModelError(
            f"method 'sam': micro-sam is installed but cannot be imported (missing: {missing}): "
            f"{INSTALL_HINT}"
        ) from exc
    return util, instance_segmentation
