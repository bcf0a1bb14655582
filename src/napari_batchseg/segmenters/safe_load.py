"""Reading model and checkpoint files without running code from them.

A torch file is a pickle: loaded in full, it may run any code its author put in it. A run log or a
YAML file names model files, and logs are shared with data, so every model file the package opens
itself is read with ``torch.load(weights_only=True)``, which builds only tensors and plain
containers. A file that needs more (a pickled class) is refused with one line naming it, unless the
user opts in for this run with ``--trust-checkpoint`` (the environment variable
:data:`TRUST_ENV`, which a log or a YAML file cannot set).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ._weights import OFF_WORDS

__all__ = ["TRUST_ENV", "UnsafeModelFile", "check_loadable", "load_weights", "trusted"]

#: set (to anything but an "off" word) to allow model files that need pickled code, for this run
TRUST_ENV = "BATCHSEG_TRUST_CHECKPOINT"


class UnsafeModelFile(ModelError):
    """A model file needs code from its pickle to load, and the user did not opt in."""


def trusted() -> bool:
    """Whether the user allowed model files that need pickled code (``--trust-checkpoint``)."""
    return os.environ.get(TRUST_ENV, "").strip().lower() not in OFF_WORDS


def _refusal(path: Path, what: str, exc: BaseException) -> UnsafeModelFile:
    detail = str(exc).strip().splitlines()
    why = next((line.strip() for line in detail if "GLOBAL" in line or "Unsupported" in line), "")
    why = f" ({why[:160]})" if why else ""
    return UnsafeModelFile(
        f"{what} {path} needs code from its pickle to load{why}: refused, a model file must not run "
        "code; if you made this file or trust who did, run again with --trust-checkpoint"
    )


def _is_unpickling_refusal(exc: BaseException) -> bool:
    import pickle

    text = str(exc)
    return isinstance(exc, pickle.UnpicklingError) or "weights_only" in text or "Weights only" in text


def load_weights(path: str | os.PathLike[str], what: str = "model file", *, mmap: bool = True) -> Any:
    """The content of a torch file, read with ``weights_only=True`` (no code runs).

    ``mmap`` maps tensors instead of reading them (a multi-GB file is not read just to look at it);
    files that cannot be mapped (older torch format) are read in full. With :func:`trusted`, a file
    that needs pickled code is loaded in full instead of refused.

    Raises
    ------
    UnsafeModelFile
        The file needs pickled code and the user did not opt in.
    ModelError
        The file is not a torch file, or cannot be read.
    """
    import torch

    path = Path(path)
    last: BaseException | None = None
    for kwargs in ({"mmap": True}, {}) if mmap else ({},):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.load(str(path), map_location="cpu", weights_only=True, **kwargs)
        except Exception as exc:  # noqa: BLE001 - sorted out below
            last = exc
            if _is_unpickling_refusal(exc):
                break
    assert last is not None
    if _is_unpickling_refusal(last) and trusted():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.load(str(path), map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - reported as unreadable below
            last = exc
    elif _is_unpickling_refusal(last) and "global" in str(last).lower():
        raise _refusal(path, what, last) from last
    first = (str(last).strip().splitlines() or [""])[0][:200]
    raise ModelError(f"{what} {path} cannot be loaded: {type(last).__name__}: {first}") from last


def check_loadable(path: str | os.PathLike[str], what: str = "model file") -> None:
    """Refuse (raise) a torch file that needs pickled code, before a library loads it its own way.

    Libraries that load with ``weights_only=False`` (or with torch's default before 2.6) are handed
    only files that passed this check. A file that is not a torch file at all is left to the library
    (it reports it in its own words).
    """
    try:
        load_weights(path, what)
    except UnsafeModelFile:
        raise
    except ModelError:
        return
