"""Areas of the test suite that need an optional part installed, and the named opt-outs that drop them.

Under the README's test command (``scripts/test.sh``) and CI (``.ci/run``), both with ``CI=true``, an
area that cannot run **fails**: a missing micro-sam, napari or pytest-qt is an error, not a row of skips
or tests that silently vanish. Only a named opt-out drops an area, and the run says so at the end:

* ``SAM=0``: micro-sam (the ``[sam]`` extra); tests marked ``sam`` are deselected;
* ``NAPARI=0``: the napari widgets (napari, pytest-qt); tests marked ``qt`` (all of ``tests/_napari``);
* ``CP4=0``: ``scripts/test.sh`` neither builds nor runs ``.venv-cp4`` (Cellpose 4).

Tests that need one Cellpose major (marker ``cp3``, or ``cp4`` for those using the ``cp4`` fixture) are
deselected in the environment with the other major: each major's tests run in its own environment.
Outside CI (a plain ``pytest``), a missing optional part skips with its reason, as before.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import _realdata


@dataclass(frozen=True)
class Area:
    """An optional part of the suite: what it needs, its marker and its opt-out variable."""

    name: str
    title: str
    modules: tuple[str, ...]
    marker: str
    #: words by which a skip's reason names this area (a skip naming it fails unless opted out)
    words: tuple[str, ...]

    @property
    def opt_out(self) -> str:
        """The environment variable that drops the area when set to ``0`` (``SAM``, ``NAPARI``, ...)."""
        return self.name.upper()

    def missing(self) -> list[str]:
        """The modules of the area that are not installed."""
        return [m for m in self.modules if importlib.util.find_spec(m) is None]


AREAS: dict[str, Area] = {
    "sam": Area("sam", "micro-sam", ("micro_sam",), "sam", ("micro_sam", "micro-sam")),
    "napari": Area("napari", "napari widgets", ("napari", "pytestqt"), "qt",
                   ("napari", "pytestqt", "pytest-qt", "pyqt", "qtpy", "qt application")),
}


def strict() -> bool:
    """Whether an area that cannot run must fail: ``CI=true`` (``.ci/run`` and ``scripts/test.sh``)."""
    return _realdata.in_ci()


def opted_out(name: str) -> bool:
    """Whether the area was dropped by its opt-out (``SAM=0``, ``NAPARI=0``, ``CP4=0``)."""
    return os.environ.get(name.upper(), "").strip() == "0"


def required(name: str) -> bool:
    """Whether the area must run here: strict and not opted out (any name: ``"dask"`` -> ``DASK=0``)."""
    return strict() and not opted_out(name)
