"""Form fields described without Qt: what a control is, and how its value maps to a parameter.

``_napari._qtutil.Fields`` builds the controls from these specs and reads and sets them by key; the
mapping between what a control shows and a parameter value (a spin box's special value standing for
``None``) is decided here, so that it is tested without a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "float", "choice", "check", "text"]


@dataclass(frozen=True)
class Field:
    """One control of a form.

    Parameters
    ----------
    key
        The parameter it edits (a :class:`~napari_batchseg.params.SegmentationParams` field, or any name).
    kind
        ``int`` / ``float`` (spin boxes), ``choice`` (a drop-down of ``choices``), ``check`` (a check
        box), ``text`` (a line edit).
    label
        The form row's label ("": the control is placed by the caller, or spans the row).
    lo, hi, value
        A spin box's range and initial value (``value`` of a ``choice``: the data selected first).
    special
        Text a spin box shows at its minimum (e.g. "auto").
    prefix, suffix, step, decimals
        A spin box's look and step.
    choices
        ``(data, text)`` entries of a ``choice``.
    text
        A check box's text, or a line edit's placeholder.
    tip
        The tooltip.
    none_at
        The spin value that stands for ``None`` in the parameter (e.g. -1 for "last", 0 for "from file").
    """

    key: str
    kind: Kind = "float"
    label: str = ""
    lo: float = 0
    hi: float = 0
    value: Any = None
    special: str = ""
    prefix: str = ""
    suffix: str = ""
    step: float | None = None
    decimals: int | None = None
    choices: tuple[tuple[Any, str], ...] = ()
    text: str = ""
    tip: str = ""
    none_at: float | None = None

    def to_param(self, shown: Any) -> Any:
        """The parameter value for what the control shows."""
        return None if self.none_at is not None and shown == self.none_at else shown

    def to_shown(self, param: Any) -> Any:
        """What the control shows for a parameter value."""
        return self.none_at if param is None and self.none_at is not None else param


def choices(items: Sequence[str] | Sequence[tuple[Any, str]]) -> tuple[tuple[Any, str], ...]:
    """``(data, text)`` entries; a plain string is its own data."""
    return tuple((i, i) if isinstance(i, str) else (i[0], i[1]) for i in items)


def by_key(specs: Sequence[Field]) -> dict[str, Field]:
    """The specs by parameter key (each key once)."""
    out: dict[str, Field] = {}
    for spec in specs:
        if spec.key in out:
            raise ValueError(f"two fields edit {spec.key!r}")
        out[spec.key] = spec
    return out
