"""Cellpose's tqdm bars while training: shown on a terminal only (``batchseg train`` and the API alike)."""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

_LOCK = threading.Lock()
#: trainings inside now, and the disabled tranges the first one put (id -> (it, the trange it stands for))
_held: dict[str, Any] = {"depth": 0, "originals": {}}


@contextlib.contextmanager
def no_progress_bars_off_a_terminal() -> Iterator[None]:
    """Cellpose's tqdm bars (``train_seg``'s flows and diameters) only on a terminal's stderr.

    ``cellpose.train`` and ``cellpose.dynamics`` call ``tqdm.trange``, which writes its bar to stderr
    whatever it is: in a pipe, a batch system's log or a notebook's log file, lines of carriage returns.
    Off a terminal their ``trange`` is a disabled one while training (the per-epoch progress tells the
    progress); Cellpose's errors and warnings go through logging and exceptions, and are untouched.
    :func:`~.run.train_model` trains inside it, so the command line and the Python API behave the same.

    A module first imported inside (Cellpose is imported only once the base model is found) takes the
    disabled ``trange`` from tqdm (``from tqdm import trange``) and would keep it: on the way out every
    loaded module that holds one of the disabled ones gets the original back, so later code in the same
    process has its bars again. Nothing is imported for this but tqdm. Trainings in several threads at
    once share it: the first in disables, the last out puts back.
    """
    with _LOCK:
        if _held["depth"] == 0:
            _held["originals"] = _disable_trange()
        _held["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _held["depth"] -= 1
            if _held["depth"] == 0:
                _put_back_trange(_held["originals"])
                _held["originals"] = {}


def _disable_trange() -> dict[int, tuple[Any, Any]]:
    """Off a terminal, the ``trange`` of tqdm and Cellpose disabled (what :func:`_put_back_trange` takes)."""
    isatty = getattr(sys.stderr, "isatty", None)
    if isatty and isatty():
        return {}
    import tqdm  # type: ignore[import-untyped]  # (not Cellpose: a missing model is said before torch is imported)

    originals: dict[int, tuple[Any, Any]] = {}  # id(disabled trange) -> (it, the trange it stands for)
    # imported already: their own trange; else tqdm's, which they take (``from tqdm import trange``)
    spaces = [vars(module) for name in ("cellpose.train", "cellpose.dynamics")
              if (module := sys.modules.get(name)) is not None]
    for space in [vars(tqdm), *spaces]:
        if "trange" in space:
            disabled = functools.partial(space["trange"], disable=True)
            originals[id(disabled)] = (disabled, space["trange"])
            space["trange"] = disabled
    return originals


def _put_back_trange(originals: dict[int, tuple[Any, Any]]) -> None:
    """In every loaded module whose ``trange`` is one of ``originals``' disabled ones, the original."""
    modules: list[object] = list(sys.modules.values())  # (not only modules: some packages put others)
    for module in modules:
        if not isinstance(module, types.ModuleType):
            continue
        space = vars(module)
        held = space.get("trange")
        entry = originals.get(id(held))
        if entry is not None and entry[0] is held:
            space["trange"] = entry[1]
