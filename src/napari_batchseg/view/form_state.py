"""The Settings form's values without Qt: its choices, and conversions between its fields and params.

``_napari._form.ParamsForm`` shows these; what a field means for :class:`~..params.SegmentationParams`
(the Z range text, the model or checkpoint, the channel list) is decided here, and what the form shows
for a method and for the Z modes (:func:`method_shown`, :func:`z_range_allowed`, :func:`z_shown`); the
run bar's parallel row too (:func:`parallel_fields`, :func:`uses_processes`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..io.sources import SourceInfo
from ..params import PROJECTIONS, VOLUME_Z_RANGES, SegmentationParams, ZRange
from ..runners.options import PARALLEL_MODES
from ..segmenters.catalog import is_cellpose_builtin, offered_models
from ..segmenters.cellpose.restore import RESTORE_MODELS
from .fields import Field, choices

USER_MODEL = "User trained model…"
SAM_INSTALL_HINT = "pip install napari-batchseg[sam]"
NO_CHANNEL = "—"
DIAMETER_HELP = {
    3: "Expected object diameter in pixels. 0 (auto): estimated for cyto/cyto2/cyto3/nuclei; "
       "a user-trained model uses its training diameter.",
    4: "Expected object diameter in pixels (the image is rescaled by 30/diameter). 0 (auto): the "
       "model's native scale, no rescaling (Cellpose 4 has no size model).",
}
#: how the Z slices of a time point are chosen (index = position in the form's combo)
Z_MODES = (
    ("all", "all slices"),
    ("best", "best focus"),
    ("best:r", "best focus ± r"),
    ("range", "fixed range"),
)
#: the form's Z range modes a volume (3d, stitch) takes (the parameters' rule, ``VOLUME_Z_RANGES``)
VOLUME_Z_MODES = tuple(mode for mode, _ in Z_MODES if mode.split(":")[0] in VOLUME_Z_RANGES)
#: what is segmented per time point (``SegmentationParams.z_mode``): a projected plane or the volume
VOLUME_MODES = (
    ("project", "2D (project)"),
    ("3d", "3D volume"),
    ("stitch", "2D + stitch"),
)

#: micro-sam's automatic segmentation modes (``SegmentationParams.sam_mode``)
SAM_MODE_CHOICES = (
    ("auto", "auto"),
    ("ais", "AIS: instance decoder"),
    ("amg", "AMG: mask generator"),
    ("apg", "APG: prompts from the decoder"),
)
#: the methods offered (micro-sam's entry is disabled when it is not installed)
METHODS = (("cellpose", "Cellpose"), ("sam", "Segment Anything for Microscopy"))
#: the form's controls that edit one parameter each (the model, the channels and Z have their own rows)
FORM_FIELDS = (
    Field("method", "choice", choices=METHODS),
    Field("diameter", lo=0, hi=10000, special="auto", suffix=" px", decimals=1),
    Field("cellprob_threshold", label="cellprob threshold", lo=-8, hi=8, step=0.5,
          tip="Cellpose cell probability threshold (lower: more and larger objects)"),
    Field("flow_threshold", label="flow threshold", lo=0, hi=5, value=0.4, step=0.1,
          tip="Cellpose flow error threshold (higher: more objects kept)"),
    Field("niter", "int", label="niter", lo=0, hi=100000, special="auto",
          tip="Cellpose dynamics iterations; 0 = automatic"),
    Field("debug", "check", text="also save flows and cell probability"),
    Field("keep_flows", "check", text="keep flows for re-thresholding",
          tip="Cellpose 3: keep each frame's flows and cell probability beside the mask (compressed), so "
          "that the Re-threshold dock or `batchseg rethreshold` recompute masks without the network"),
    Field("restore", "choice", label="restore", choices=((None, "none"), *choices(RESTORE_MODELS)),
          tip="Cellpose 3: restore each plane (denoise, deblur, upsample) before segmenting it; a restore "
          "model file can be given in a parameters file (Load parameters…)"),
    Field("sam_mode", "choice", choices=SAM_MODE_CHOICES,
          tip="micro-sam's automatic segmentation: AIS (the model's decoder), AMG (mask generator, every "
          "model) or APG (prompts from the decoder); auto: AIS where the model has a decoder, else AMG"),
    Field("start_frame", "int", lo=0, hi=10**7),
    Field("end_frame", "int", lo=-1, hi=10**7, value=-1, special="last", none_at=-1),
    Field("gpu", "check", text="Use GPU"),
)
#: the Z rows' controls (``z_range_mode``, ``z_radius``, ``z_start``, ``z_stop`` make ``z_range``)
Z_FIELDS = (
    Field("z_range_mode", "choice", choices=Z_MODES),
    Field("z_radius", "int", lo=0, hi=1000, value=3, prefix="r = "),
    Field("z_start", "int", lo=0, hi=100000),
    Field("z_stop", "int", lo=0, hi=100000),
    Field("z_projection", "choice", choices=choices(PROJECTIONS), value="mean"),
    Field("z_mode", "choice", choices=VOLUME_MODES, tip="project: one projected plane per time point (mask "
          "TYX); 3d / stitch: the volume is segmented (mask TZYX)"),
    Field("anisotropy", lo=0, hi=1000, value=0, special="from file", prefix="anisotropy ", step=0.5,
          decimals=2, none_at=0, tip="Z step / XY pixel size; 'from file': the file's own Z step divided "
          "by its pixel size (1 when unknown)"),
    Field("stitch_threshold", lo=0, hi=1, value=0.25, prefix="IoU ", step=0.05, decimals=2,
          tip="2D objects of consecutive slices overlapping more than this share one id"),
)
#: the numbers that make ``z_range`` (not parameters themselves)
Z_RANGE_KEYS = ("z_range_mode", "z_radius", "z_start", "z_stop")


@dataclass(frozen=True)
class MethodShown:
    """What the form shows for a method and model (:func:`method_shown`).

    The model file row, Cellpose's own settings (diameter and Advanced), micro-sam's mode, the second
    and third channels.
    """

    model_path: bool
    cellpose: bool
    sam_mode: bool
    several_channels: bool


def method_shown(method: str, model_text: str, cellpose_major: int) -> MethodShown:
    """What the form shows for ``method`` and the model entry ``model_text``.

    micro-sam always takes a checkpoint path (its model row is the model type); Cellpose a file only for
    the user-trained model entry. Cellpose 4 takes up to three channels.
    """
    sam = method == "sam"
    return MethodShown(sam or model_text == USER_MODEL, not sam, sam,
                       method == "cellpose" and cellpose_major >= 4)


def z_range_allowed(volume_mode: str, z_range_mode: str) -> bool:
    """Whether the Z range mode is offered with the volume mode (a volume takes no best focus)."""
    return volume_mode == "project" or z_range_mode in VOLUME_Z_MODES


def z_shown(volume_mode: str, z_range_mode: str) -> dict[str, bool]:
    """Which of the Z rows' parts are shown: each mode's own numbers, the projection for a plane only.

    Keys: ``radius`` (best focus ± r), ``range`` (start – stop), ``anisotropy`` (3d), ``stitch``
    (stitch), ``projection`` (2D).
    """
    return {"radius": z_range_mode == "best:r", "range": z_range_mode == "range",
            "anisotropy": volume_mode == "3d", "stitch": volume_mode == "stitch",
            "projection": volume_mode == "project"}


def micro_sam_available() -> bool:
    """Whether micro-sam can be imported (checked without importing it)."""
    return importlib.util.find_spec("micro_sam") is not None


def absent_channel_text(value: int | str) -> str:
    """How a channel asked for but not in the selected file is listed."""
    return f"{value} (by name)" if isinstance(value, str) else f"{value}: (not in the selected file)"


def named_channels(names: Sequence[str]) -> bool:
    """Whether ``names`` name a file's channels well enough for the form to keep a channel by name.

    A channel chosen from such a file is kept by its name, so that every file segments that channel
    (files without it are flagged); not for a file without names (the reader's ``C0, C1, ...``), nor
    names that repeat (case aside, as names are matched), nor those a channel parameter reads otherwise
    (digits: an index; a comma: a list; spaces around).
    """
    lowered = [n.lower() for n in names]
    return (any(n != f"C{i}" for i, n in enumerate(names)) and len(set(lowered)) == len(lowered)
            and all(n and n == n.strip() and not n.isdigit() and "," not in n for n in names))


def channel_data(names: Sequence[str], index: int, keep: int | str | None = None) -> int | str:
    """The value of a file's channel ``index`` in a channel list: its name (:func:`named_channels`).

    Its index when the file has no such names, or when ``keep`` is that index (a value set by index, e.g.
    the default 0 or a parameter file's, stays an index until another channel is chosen).
    """
    return names[index] if named_channels(names) and keep != index else index


def chosen_channel(names: Sequence[str], data: object) -> object:
    """A channel list's entry's value once chosen: a file's index as its name (:func:`named_channels`)."""
    if isinstance(data, int) and 0 <= data < len(names) and named_channels(names):
        return names[data]
    return data


def channel_entries(names: Sequence[str], keep: int | str | None) -> list[tuple[int | str, str]]:
    """A channel list's ``(data, text)`` entries: the file's channels, and ``keep`` when it has none such.

    The data is :func:`channel_data`: a file's channel names when it has them, else its indices
    (``keep`` ``None``: nothing kept).
    """
    entries: list[tuple[int | str, str]] = [(channel_data(names, i, keep), f"{i}: {n}")
                                            for i, n in enumerate(names)]
    if keep is not None and all(data != keep for data, _ in entries):
        entries.append((keep, absent_channel_text(keep)))
    return entries


def channel_choice(names: Sequence[str], channel: int | str) -> int | str:
    """The channel list's entry that shows ``channel``: a name of a file without usable names: its index."""
    if isinstance(channel, str) and channel in names and not named_channels(names):
        return names.index(channel)
    return channel


def input_name(info: SourceInfo) -> str:
    """How the Settings name an input: the napari layer's name, else the file's."""
    layer = info.extra.get("napari_layer") if isinstance(info.extra, dict) else None
    return f"layer {layer!r}" if layer else info.path.name


def z_note_text(name: str, n_z: int, kind: str, z_enabled: bool) -> str | None:
    """The note under the Z rows for the selected input (``None``: the note stays as it is).

    ``name``: the input as the Settings name it (:func:`input_name`); ``n_z``: its Z slices; ``kind``:
    ``"file"`` or ``"layer"``; ``z_enabled``: whether an input has Z slices (the Z rows are enabled).
    """
    if z_enabled:
        return f"{name}: {n_z} Z slice(s)" if n_z > 1 else f"{name}: no Z slices (other {kind}s have some)"
    return "no layer has Z slices" if kind == "layer" else None


def slices_note(max_z: int) -> str:
    """The note under the Z rows for the inputs listed, ``max_z`` the most Z slices one has."""
    return f"up to {max_z} Z slices" if max_z > 1 else "no file has Z slices"


def frames_tip(max_t: int) -> str:
    """The Frames row's tooltip, ``max_t`` the most time frames an input has."""
    return f"0-based, inclusive; the longest file has {max_t} frame(s)" if max_t > 1 else "no time series"


def z_range_text(mode: str, radius: int, start: int, stop: int) -> str:
    """``SegmentationParams.z_range`` from the Z mode chosen and its numbers."""
    if mode == "best:r":
        return f"best:{radius}"
    if mode == "range":
        return f"{start}-{stop}"
    return mode


@dataclass(frozen=True)
class ZFields:
    """The Z fields showing a ``z_range``: the mode's index in :data:`Z_MODES` and its numbers."""

    index: int
    radius: int | None = None  # best focus ± radius (None: keep the field's value)
    start: int | None = None
    stop: int | None = None


def z_fields(z_range: str) -> ZFields:
    """The Z fields that show ``z_range`` (see :class:`ZFields`)."""
    zr = ZRange.parse(z_range)
    if zr.mode == "best":
        return ZFields(1, None) if zr.radius == 0 else ZFields(2, zr.radius)
    if zr.mode == "range":
        return ZFields(3, start=zr.start, stop=zr.stop)
    return ZFields(0)


def model_choices(method: str, trained: Sequence[str]) -> tuple[list[str], str, str]:
    """The model list of ``method``, the path field's label and its placeholder.

    Cellpose: its built-in models, the ``trained`` model files, then :data:`USER_MODEL`; micro-sam: its
    models, with an optional local checkpoint.
    """
    if method == "sam":
        return (list(offered_models("sam")), "Checkpoint",
                "optional local checkpoint (architecture: model above)")
    return ([*offered_models("cellpose"), *trained, USER_MODEL], "Model file",
            "paste, browse or drop a model file")


def model_values(method: str, model_text: str, path: str) -> tuple[str, str | None]:
    """``(model, checkpoint)`` from the method, the model list's text and the path field."""
    if method == "sam":
        return model_text, (path or None)
    return (path if model_text == USER_MODEL else model_text), None


def model_problem(method: str, model_text: str, path: str) -> str | None:
    """Why the model fields cannot run (``None``: they can): the model-file entry without a file.

    Left empty, the path would fall back to the method's default model: a run with a model the user
    did not choose.
    """
    if method != "sam" and model_text == USER_MODEL and not path.strip():
        return ("Model file (Settings tab) is empty: paste, browse or drop a model file, "
                "or pick a built-in model")
    return None


def model_fields(params: SegmentationParams) -> tuple[str, str]:
    """The model list's text and the path field that show ``params``' model (and checkpoint)."""
    if params.method == "sam":
        return str(params.model), params.checkpoint or ""
    model = str(params.model)  # a str once SegmentationParams is built
    if is_cellpose_builtin(model):
        return model, ""
    return USER_MODEL, str(Path(model))


def channel_value(first: int | str | None, extras: list[int | str | None],
                  several: bool) -> int | str | list[int | str]:
    """The channel parameter: the first channel, and (``several``: Cellpose 4) the extra ones chosen."""
    chosen: list[int | str] = [first if first is not None else 0]
    if several:
        for value in extras:
            if value is not None and value not in chosen:
                chosen.append(value)
    return chosen[0] if len(chosen) == 1 else chosen


def split_channel(channel: int | str | list[int | str]) -> tuple[int | str, list[int | str]]:
    """The first channel of a channel parameter and the extra ones."""
    if isinstance(channel, list):
        return channel[0], list(channel[1:])
    return channel, []


def method_only_values(values: dict[str, object]) -> dict[str, object]:
    """The settings of the method not chosen, neutral: the form keeps what they show, a run ignores it.

    Cellpose's ``restore`` and ``keep_flows`` are refused by :class:`SegmentationParams` under micro-sam,
    and ``sam_mode`` means nothing to Cellpose.
    """
    if values.get("method") == "sam":
        return {"restore": None, "keep_flows": False}
    return {"sam_mode": "auto"}


#: the run bar's words for :data:`~napari_batchseg.runners.PARALLEL_MODES`
PARALLEL_LABELS = {"none": "one process", "files": "one file per process", "frames": "frames over processes"}


def parallel_fields(max_processes: int) -> tuple[Field, Field]:
    """The run's parallel mode and its number of processes (1 to ``max_processes``)."""
    modes = tuple((mode, PARALLEL_LABELS.get(mode, mode)) for mode in PARALLEL_MODES)
    return (Field("parallel", "choice", choices=modes),
            Field("processes", "int", lo=1, hi=max(1, max_processes), value=1, prefix="processes: "))


def uses_processes(mode: str | None) -> bool:
    """Whether the parallel ``mode`` uses the number of processes (one process uses none)."""
    return mode not in (None, "none")
