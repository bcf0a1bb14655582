"""One validated parameter object for a segmentation run.

:class:`SegmentationParams` holds every option of a run (method, model, thresholds, channel, Z-projection,
frame range, output rules). It validates itself, converts to and from plain dictionaries and YAML, and is
serialised into every output log so that a run can be reproduced.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import numbers
import operator
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from ._atomic_text import UMASK, write_text_atomic

#: The allowed values of the string-valued fields (the field annotations of
#: :class:`SegmentationParams`; the tuples below are derived from them, for choices and messages)
Method = Literal["cellpose", "sam"]
Projection = Literal["max", "min", "mean", "median", "std"]
Existing = Literal["skip", "overwrite", "error"]
SamMode = Literal["auto", "ais", "amg", "apg"]
ZMode = Literal["all", "best", "range"]
Precision = Literal["auto", "float32", "bfloat16"]
#: how Z is handled: projected to one plane (``project``), or segmented as a volume (``3d``: Cellpose
#: ``do_3D``; ``stitch``: 2D per slice, objects stitched across slices)
VolumeMode = Literal["project", "3d", "stitch"]

METHODS: tuple[str, ...] = get_args(Method)
PROJECTIONS: tuple[str, ...] = get_args(Projection)
EXISTING_POLICIES: tuple[str, ...] = get_args(Existing)
SAM_MODES: tuple[str, ...] = get_args(SamMode)
PRECISIONS: tuple[str, ...] = get_args(Precision)
Z_MODES: tuple[str, ...] = get_args(VolumeMode)


@functools.lru_cache(maxsize=1)
def cellpose_version() -> str | None:
    """The installed Cellpose's version (``"3.1.1.3"``, ``"4.2.1.1"``), ``None`` when it is not installed.

    Read from the package metadata: Cellpose (and torch) are not imported.
    """
    try:
        return metadata.version("cellpose")
    except metadata.PackageNotFoundError:
        return None


def cellpose_major() -> int:
    """The installed Cellpose's major version (``3`` or ``4``; ``3`` when Cellpose is not installed)."""
    version = cellpose_version()
    try:
        return int(version.split(".")[0]) if version else 3
    except ValueError:
        return 3


#: model used when none is given, per method (Cellpose: ``cyto3`` with Cellpose 3, ``cpsam_v2`` with 4)
DEFAULT_MODELS: dict[str, str] = {
    "cellpose": "cpsam_v2" if cellpose_major() >= 4 else "cyto3",
    "sam": "vit_b_lm",
}
#: channels a run may combine (Cellpose 4 takes up to 3; Cellpose 3 and micro-sam one)
MAX_CHANNELS = 3
SUFFIX_PATTERN = re.compile(r"^[A-Za-z0-9-]*$")
def tracked_suffix(suffix: str) -> str:
    """Why an output suffix is refused for ending like ``batchseg track``'s copies (``""``: it is not).

    ``<mask>-tracked.ome.tif`` is a tracked copy, which the folder commands pass over (a review: a mask
    of suffix ``tracked`` was invisible to measure, export, evaluate, train and track).
    """
    if suffix.lower() == "tracked" or suffix.lower().endswith("-tracked"):
        return f"suffix {suffix!r} ends like batchseg track's tracked copies (-tracked): choose another"
    return ""


#: the Z range modes (:class:`ZRange`) a volume (``z_mode`` 3d, stitch) takes: best focus picks planes to
#: project, not a volume
VOLUME_Z_RANGES = ("all", "range")
DEFAULT_EXTENSIONS: tuple[str, ...] = (".nd2", ".tif", ".tiff", ".ome.tif", ".ome.tiff")
#: ``cellprob_threshold`` is a logit; Cellpose's own GUI offers -6..6. Beyond +/-20 (a probability
#: within 2e-9 of 0 or 1) every pixel or no pixel is a cell: an all-or-nothing mask, never meant.
CELLPROB_LIMIT = 20.0
#: Most Cellpose dynamics iterations (its default is 200; 1e6 ran 134 s for one small frame)
NITER_LIMIT = 10_000


class ParameterError(ValueError):
    """Raised when a parameter value is invalid; the message names the parameter."""


@dataclass(frozen=True)
class ZRange:
    """Which Z slices to project.

    Parameters
    ----------
    mode
        ``"all"`` (every slice), ``"best"`` (best-focus slice plus/minus ``radius``; radius 0 is the
        best-focus slice alone) or ``"range"`` (``start``..``stop`` inclusive, 0-based).
    radius
        Half-width of the window around the best-focus slice (mode ``"best"``).
    start, stop
        Inclusive 0-based bounds (mode ``"range"``).
    """

    mode: ZMode = "all"
    radius: int = 0
    start: int = 0
    stop: int = 0

    @classmethod
    def parse(cls, text: str | ZRange) -> ZRange:
        """Parse ``all``, ``best``, ``best:R`` or ``A-B`` (0-based, inclusive)."""
        if isinstance(text, ZRange):
            return text
        s = str(text).strip().lower()
        if s == "all":
            return cls("all")
        if s == "best":
            return cls("best", radius=0)
        m = re.fullmatch(r"best:(\d+)", s)
        if m:
            return cls("best", radius=int(m.group(1)))
        m = re.fullmatch(r"(\d+)-(\d+)", s)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise ParameterError(f"z_range {text!r}: end {b} is before start {a}")
            return cls("range", start=a, stop=b)
        m = re.fullmatch(r"(\d+)", s)
        if m:
            return cls("range", start=int(m.group(1)), stop=int(m.group(1)))
        raise ParameterError(
            f"z_range {text!r} not understood; use 'all', 'best', 'best:R' or 'A-B' (0-based, inclusive)"
        )

    @property
    def first_volume_slice(self) -> int:
        """The input slice a volume's first slice is (volumes take ``all`` or ``range``: 0 or ``start``)."""
        return self.start if self.mode == "range" else 0

    def __str__(self) -> str:
        if self.mode == "all":
            return "all"
        if self.mode == "best":
            return "best" if self.radius == 0 else f"best:{self.radius}"
        return f"{self.start}-{self.stop}"


@dataclass
class SegmentationParams:
    """All the options of a segmentation run.

    Parameters
    ----------
    method
        ``"cellpose"`` or ``"sam"`` (Segment Anything for Microscopy).
    model
        Cellpose built-in model name (Cellpose 3: ``cyto3``, ``nuclei``, ...; Cellpose 4: ``cpsam_v2``,
        ``cpsam``) or path to a user-trained model; for micro-sam a model type (``vit_b_lm``, ...).
        ``None``: the installed Cellpose's default (``cyto3`` or ``cpsam_v2``) or ``vit_b_lm``.
    checkpoint
        micro-sam only: a local checkpoint file, its architecture given by ``model``.
    diameter
        Expected object diameter in pixels. ``0`` estimates it (Cellpose ``cyto``, ``cyto2``, ``cyto3``,
        ``nuclei``); for user models ``0`` means the model's own training diameter. Cellpose 4: ``0`` is
        the model's native scale (no rescaling); ``D > 0`` rescales the image by ``30 / D``.
    cellprob_threshold, flow_threshold, niter
        Cellpose settings (``niter=0``: Cellpose's automatic choice). Every number must be finite
        (NaN and infinity are refused: Cellpose would return an empty or a different mask without a
        word); ``cellprob_threshold`` lies within +/-:data:`CELLPROB_LIMIT`, ``niter`` within
        0..:data:`NITER_LIMIT`.
    channel
        0-based channel index, or a channel name present in the file. Cellpose 4 takes up to 3 channels,
        in order: a list, or text such as ``"0,2"`` or ``"DAPI,GFP"`` (a list of one is one channel).
    z_range, z_projection
        Which Z slices to project and how (computed in float). With ``z_mode`` ``3d`` or ``stitch``,
        ``z_range`` picks the slices of the volume (``all`` or ``A-B``) and ``z_projection`` is unused.
    z_mode
        ``project`` (one plane per time point, the default), ``3d`` (Cellpose ``do_3D``: the volume is
        segmented as a whole) or ``stitch`` (2D per slice, objects stitched across slices when their
        overlap (IoU) is above ``stitch_threshold``). Masks of ``3d``/``stitch`` are ``TZYX``.
    anisotropy
        ``3d`` only: Z step / XY pixel size (> 0); ``None``: from the file when it knows both, else 1.
    stitch_threshold
        ``stitch`` only: IoU in [0, 1] above which objects of consecutive slices are joined.
    start_frame, end_frame
        0-based inclusive frame range (``end_frame=None``: to the last frame). An end past a file's last
        frame is clipped to it, and said (a planning note: :attr:`~napari_batchseg.api.RunSummary.notes`,
        a warning line of the command line).
    positions
        Which positions (fields of view, scenes, series) of multi-position files to segment; ``None``,
        ``""`` or ``"all"`` (or a list of it alone, ``["all"]``): all (an empty list is refused; ``"all"``
        with other positions too). 0-based indices (NumPy integers too), ranges and
        position names, as a list, array or range (``[0, 2, "B4"]``, ``range(3)``) or text such as
        ``"0,2,5-7"`` (kept as the list ``[0, 2, 5, 6, 7]``); digits are indices, other text a name
        (any case). A file of several positions lacking one of them fails, naming the positions it has;
        the others run. A file of one position has nothing to choose: it runs whole (a plan note says so).
    gpu
        Use a GPU (CUDA or Apple MPS) when one is found.
    batch_size
        Number of 224x224 tiles per network call (Cellpose ``batch_size``).
    output_dir
        Folder for outputs; ``None`` writes beside each input.
    suffix
        Optional user suffix (``A-Z a-z 0-9 -``): outputs are ``<stem>_vSM-<suffix>.ome.tif``.
    existing
        What to do when an output exists: ``skip``, ``overwrite`` or ``error``.
    debug
        Also save flows and cell probability beside the mask (Cellpose).
    sam_mode, tile_shape, halo
        micro-sam options: ``auto|ais|amg|apg`` and optional tiling.
    axes
        Optional axis override for files whose axes are ambiguous (e.g. ``"TYX"`` or ``"ZYX"``).
    dataset
        HDF5 inputs: the path of the image dataset inside the file (e.g. ``"/raw"``), needed for files
        holding several; other formats ignore it.
    precision
        Cellpose 4 network precision: ``auto`` (bfloat16 where the device computes it natively, else
        float32: a CPU without ``avx512_bf16``/``amx_bf16`` emulates bfloat16 slowly), ``float32`` or
        ``bfloat16``. Cellpose 3 runs float32.
    restore
        Cellpose 3 only: a restore model (``denoise_cyto3``, ``deblur_cyto3``, ``upsample_cyto3``,
        ``oneclick_cyto3``, ... or a restore model file) applied to each prepared plane before it is
        segmented (``cellpose.denoise``); ``None``: no restoration. Refused under Cellpose 4.
    keep_flows
        Cellpose 3 only: keep each frame's flows and cell probability beside the mask
        (``<stem>_vSM_dP.tif``, ``_cellprob.tif``), so ``batchseg rethreshold`` can recompute masks
        with other thresholds without the network.
    min_size
        Cellpose: objects smaller than this many pixels are removed (Cellpose's ``min_size``, default
        15; ``-1`` keeps all). Only the default under Cellpose 4.
    extra
        Method-specific settings under the method's own names (e.g. micro-sam's
        ``foreground_threshold`` or ``points_per_side``; ``embedding_cache``: a folder or ``False``).
    """

    method: Method = "cellpose"
    model: str | None = None
    checkpoint: str | None = None
    diameter: float = 0.0
    cellprob_threshold: float = 0.0
    flow_threshold: float = 0.4
    niter: int = 0
    channel: int | str | list[int | str] = 0
    z_range: str = "all"
    z_projection: Projection = "mean"
    z_mode: VolumeMode = "project"
    anisotropy: float | None = None
    stitch_threshold: float = 0.25
    start_frame: int = 0
    end_frame: int | None = None
    positions: list[int | str] | None = None
    gpu: bool = False
    batch_size: int = 8
    output_dir: str | None = None
    suffix: str = ""
    existing: Existing = "skip"
    debug: bool = False
    restore: str | None = None
    keep_flows: bool = False
    min_size: int = 15
    sam_mode: SamMode = "auto"
    tile_shape: tuple[int, int] | None = None
    halo: tuple[int, int] | None = None
    axes: str | None = None
    dataset: str | None = None
    precision: Precision = "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check every value; raise :class:`ParameterError` naming the first bad one."""
        if self.method not in METHODS:
            raise ParameterError(f"method {self.method!r} unknown; choose one of {', '.join(METHODS)}")
        if self.model is None or not str(self.model).strip():
            self.model = DEFAULT_MODELS[self.method]
        self.model = str(self.model)
        for name in ("diameter", "cellprob_threshold", "flow_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool):
                raise ParameterError(f"{name} must be a number, got {value!r}")
            try:
                setattr(self, name, float(value))
            except (TypeError, ValueError):
                raise ParameterError(f"{name} must be a number, got {value!r}") from None
            if not math.isfinite(getattr(self, name)):
                raise ParameterError(f"{name} must be a finite number, got {value!r}")
        if not -CELLPROB_LIMIT <= self.cellprob_threshold <= CELLPROB_LIMIT:
            raise ParameterError(
                f"cellprob_threshold must be between {-CELLPROB_LIMIT:g} and {CELLPROB_LIMIT:g} (a logit: "
                f"beyond that every pixel or no pixel is a cell), got {self.cellprob_threshold}"
            )
        if self.diameter < 0:
            raise ParameterError(f"diameter must be >= 0 (0 = estimate), got {self.diameter}")
        if self.flow_threshold < 0:
            raise ParameterError(f"flow_threshold must be >= 0, got {self.flow_threshold}")
        self.niter = _as_int("niter", self.niter)
        if not 0 <= self.niter <= NITER_LIMIT:
            raise ParameterError(
                f"niter must be between 0 (automatic) and {NITER_LIMIT:,} (Cellpose's default is 200), "
                f"got {self.niter:,}"
            )
        self.channel = _parse_channel(self.channel)
        if isinstance(self.channel, list) and self.method != "cellpose":
            raise ParameterError(
                f"channel {self.channel!r}: {self.method} segments one channel; several channels (up to "
                f"{MAX_CHANNELS}) are for Cellpose 4"
            )
        self.z_range = str(ZRange.parse(self.z_range))
        if self.z_projection not in PROJECTIONS:
            raise ParameterError(
                f"z_projection {self.z_projection!r} unknown; choose one of {', '.join(PROJECTIONS)}"
            )
        z = ZRange.parse(self.z_range)
        single = (z.mode == "best" and z.radius == 0) or (z.mode == "range" and z.start == z.stop)
        if self.z_projection == "std" and single:
            raise ParameterError(
                f"z_projection 'std' needs several slices; z_range {self.z_range!r} selects one"
            )
        _check_z_mode(self)
        self.start_frame = _as_int("start_frame", self.start_frame)
        if self.start_frame < 0:
            raise ParameterError(f"start_frame must be >= 0, got {self.start_frame}")
        if self.end_frame is not None:
            self.end_frame = _as_int("end_frame", self.end_frame)
            if self.end_frame < self.start_frame:
                raise ParameterError(
                    f"end_frame ({self.end_frame}) must be >= start_frame ({self.start_frame})"
                )
        self.positions = _parse_positions(self.positions)
        self.batch_size = _as_int("batch_size", self.batch_size)
        if self.batch_size < 1:
            raise ParameterError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.suffix is None:  # YAML and callers may give None
            self.suffix = ""  # type: ignore[unreachable]
        if not SUFFIX_PATTERN.match(self.suffix):
            raise ParameterError(
                f"suffix {self.suffix!r} may contain only A-Z, a-z, 0-9 and '-' characters"
            )
        if refused := tracked_suffix(self.suffix):
            raise ParameterError(refused)
        if self.existing not in EXISTING_POLICIES:
            raise ParameterError(
                f"existing {self.existing!r} unknown; choose one of {', '.join(EXISTING_POLICIES)}"
            )
        if self.sam_mode not in SAM_MODES:
            raise ParameterError(f"sam_mode {self.sam_mode!r} unknown; choose one of {', '.join(SAM_MODES)}")
        self.tile_shape = _as_pair("tile_shape", self.tile_shape)
        self.halo = _as_pair("halo", self.halo)
        if self.axes is not None:
            self.axes = str(self.axes).upper()
            if not re.fullmatch(r"[PTCZYX]+", self.axes) or not self.axes.endswith("YX"):
                raise ParameterError(
                    f"axes {self.axes!r}: use letters P, T, C, Z, Y, X ending in YX (e.g. 'TYX', 'ZCYX')"
                )
            if len(set(self.axes)) != len(self.axes):
                raise ParameterError(f"axes {self.axes!r} repeats a letter")
        if self.dataset is not None:
            self.dataset = str(self.dataset).strip() or None
        if self.precision not in PRECISIONS:
            raise ParameterError(
                f"precision {self.precision!r} unknown; choose one of {', '.join(PRECISIONS)}"
            )
        if self.output_dir is not None:
            self.output_dir = str(self.output_dir)
        self.gpu = _as_bool("gpu", self.gpu)
        self.debug = _as_bool("debug", self.debug)
        self._validate_cellpose3_options()
        if not isinstance(self.extra, dict):
            raise ParameterError(f"extra must be a mapping of setting: value, got {self.extra!r}")
        for key, value in self.extra.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(f"setting {key} must be a finite number, got {value!r}")

    def _validate_cellpose3_options(self) -> None:
        """``restore``, ``keep_flows`` and ``min_size``: Cellpose (3) settings, refused elsewhere."""
        self.restore = str(self.restore).strip() or None if self.restore is not None else None
        self.keep_flows = _as_bool("keep_flows", self.keep_flows)
        self.min_size = _as_int("min_size", self.min_size)
        if self.min_size < -1:
            raise ParameterError(f"min_size must be >= -1 (-1 keeps every object), got {self.min_size}")
        asked = [name for name, on in (("restore", self.restore is not None),
                                        ("keep_flows", self.keep_flows),
                                        ("min_size", self.min_size != 15)) if on]
        if asked and self.method != "cellpose":
            raise ParameterError(f"{', '.join(asked)}: Cellpose settings; method is {self.method}")
        if asked and cellpose_major() >= 4:
            raise ParameterError(
                f"{', '.join(asked)}: Cellpose 3 only (cellpose.denoise restoration, kept flows and "
                f"min_size); the installed Cellpose is {cellpose_version()}: install Cellpose 3 "
                '(pip install "napari-batchseg[cp3]") or leave these options out'
            )

    @property
    def zrange(self) -> ZRange:
        """The parsed :class:`ZRange`."""
        return ZRange.parse(self.z_range)

    # ------------------------------------------------------------------ conversion
    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML/JSON-serialisable dictionary of all parameters."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        if not out["extra"]:
            out.pop("extra")
        if out["positions"] is None:  # (all: the logs of such runs read as before, by older versions too)
            out.pop("positions")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentationParams:
        """Build from a dictionary; unknown keys are an error naming them (dashes allowed)."""
        known = {f.name for f in fields(cls)}
        clean = {str(k).replace("-", "_"): v for k, v in (data or {}).items()}
        unknown = sorted(set(clean) - known)
        if unknown:  # a typo is named with the parameter it is close to (a walk: "cellprob_treshold")
            import difflib

            named = [name + "".join(f" (did you mean {close}?)"
                                    for close in difflib.get_close_matches(name, known, 1, 0.8))
                     for name in unknown]
            raise ParameterError(f"unknown parameter(s): {', '.join(named)}")
        return cls(**clean)

    def replace(self, **changes: Any) -> SegmentationParams:
        """Copy with some values changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_yaml(self) -> str:
        """YAML text of :meth:`to_dict`."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        """Write the parameters to a YAML file, atomically.

        Written to a temporary file beside it (``.<name>.partial-XXXXXXXX``), synced, then renamed onto
        ``path``: a write that fails (a full disk, a file size limit) or is killed leaves an earlier file
        as it was, never cut short (it was truncated, then written in place). Through the writer of every
        text output (:func:`napari_batchseg._atomic_text.write_text_atomic`).

        Raises
        ------
        OSError
            The file cannot be written (the temporary file is removed); it names ``path`` (not the
            temporary file).
        """
        write_text_atomic(path, self.to_yaml())

    @classmethod
    def load(cls, path: str | Path) -> SegmentationParams:
        """Read parameters from a YAML file (an error names the file).

        A file written by ``batchseg segment --save-config`` also holds folder filters and run options
        (:data:`CONFIG_FILTER_KEYS`, :data:`CONFIG_RUN_OPTIONS`): they are not parameters, and left out.
        """
        return cls.from_file_data(read_yaml_mapping(path), path)

    @classmethod
    def from_file_data(cls, data: dict[str, Any], path: str | Path) -> SegmentationParams:
        """The parameters of a parameter file's mapping (:func:`parameter_entries`); errors name the file."""
        try:
            return cls.from_dict(parameter_entries(data))
        except ParameterError as exc:
            raise ParameterError(f"parameter file {path}: {exc}") from exc


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line, with where: ``line 1, column 9: expected ',' or ']', but got ...``.

    PyYAML's own text spans several lines (the source line and a caret under it), and the CLI prints one
    line per error.
    """
    problem = getattr(exc, "problem", None)
    if not problem:
        return " ".join(str(exc).split())
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context, at = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and at is not None:
        context = f"{context} from line {at.line + 1}, column {at.column + 1}"
    return f"{where}{problem}" + (f" ({context})" if context else "")


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The ``option: value`` mapping of a YAML parameter file (dashes in keys become underscores)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParameterError(f"cannot read parameter file {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ParameterError(f"parameter file {p} is not text (UTF-8): byte {exc.start} cannot be read; "
                             "give a YAML file of option: value lines") from exc
    except yaml.YAMLError as exc:
        raise ParameterError(f"parameter file {p} is not valid YAML: {yaml_problem(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"parameter file {p} must hold a mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


#: parameters naming a file (when not a built-in name) or, for ``output_dir``, a folder
FILE_PARAMETERS = ("model", "checkpoint", "restore")

#: the keys of a parameter file (``batchseg segment --save-config``) that are folder filters, not parameters
CONFIG_FILTER_KEYS = ("contains", "not_contains", "ext", "recursive")


def config_recursive(config: dict[str, Any], path: str | Path) -> bool:
    """A parameter file's ``recursive``: true or false (absent or empty: false).

    Raises ``ParameterError`` naming the file ``path`` for anything else (a string such as ``"no"`` is
    truthy).
    """
    recursive = config.get("recursive", False)
    if recursive is None:
        return False
    try:
        return _as_bool("recursive", recursive)
    except ParameterError as exc:
        raise ParameterError(f"parameter file {path}: {exc}") from None


#: the keys of a parameter file that are ``batchseg segment``'s run options (how, not what, it segments),
#: with the values each takes: a tuple of choices, or a type (``--save-config`` writes those given)
CONFIG_RUN_OPTIONS: dict[str, tuple[str, ...] | type] = {
    "parallel": ("none", "files", "frames"), "processes": int, "threads_per_process": int,
    "batch_frames": int, "mask_workers": int, "masks_on": ("device", "cpu"), "dask_scheduler": str,
    "dask_local": int, "measure": bool, "track": bool,
}


def with_absolute_paths(params: SegmentationParams, names: Collection[str] = ()) -> SegmentationParams:
    """``params`` with the output folder and the model files absolute: the same wherever they are read.

    ``model``, ``checkpoint`` and ``restore`` when they name a file (not one of ``names``: built-in model
    names stay names). For a log that re-runs from anywhere (the engine), a saved parameter file
    (``--save-config``) and the dock of ``batchseg gui``.
    """
    changes = {key: str(Path(value).expanduser().resolve()) for key in FILE_PARAMETERS
               if (value := getattr(params, key)) and value not in names
               and Path(value).expanduser().is_file()}
    if params.output_dir:
        changes["output_dir"] = str(Path(params.output_dir).expanduser().absolute())
    return params.replace(**changes) if changes else params


def parameter_entries(data: dict[str, Any]) -> dict[str, Any]:
    """A parameter file's parameters: its mapping less its folder filters and run options."""
    return {k: v for k, v in data.items() if k not in CONFIG_FILTER_KEYS and k not in CONFIG_RUN_OPTIONS}


def paths_from(folder: Path, data: dict[str, Any]) -> dict[str, Any]:
    """A parameter file's relative paths, read from ``folder`` (the file's own, for the dock).

    The command line reads them from the current folder, as its options; napari's current folder means
    nothing to a dock user (a walk: ``output_dir: results`` loaded by the dock landed in napari's folder).
    ``output_dir`` always (a folder that may not exist yet); ``model``, ``checkpoint`` and ``restore`` when
    a file of that name is in that folder (else they stay as written: a built-in name, or a path).
    """
    out = dict(data)
    value = out.get("output_dir")
    if isinstance(value, str) and value.strip() and not Path(value).expanduser().is_absolute():
        out["output_dir"] = os.path.normpath(folder / value)
    for key in FILE_PARAMETERS:
        value = out.get(key)
        if isinstance(value, str) and value.strip() and not Path(value).expanduser().is_absolute() \
                and (folder / value).is_file():
            out[key] = os.path.normpath(folder / value)
    return out


def _one_channel(value: Any) -> int | str:
    if isinstance(value, bool):
        raise ParameterError(f"channel must be a 0-based index or a channel name, got {value!r}")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise ParameterError(f"channel index must be >= 0, got {value}")
        return value
    if isinstance(value, float) and value.is_integer():
        return _one_channel(int(value))
    if not isinstance(value, str):
        raise ParameterError(f"channel must be a 0-based index or a channel name, got {value!r}")
    return value


def _parse_channel(value: Any) -> int | str | list[int | str]:
    """One channel (index or name), or a list of up to :data:`MAX_CHANNELS` from a list or ``"0,2"``."""
    if isinstance(value, str) and "," in value:
        items: list[Any] = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple)):
        items = [v.strip() if isinstance(v, str) else v for v in value]
    else:
        return _one_channel(value)
    channels = [_one_channel(v) for v in items]
    if not channels:
        raise ParameterError(f"channel {value!r}: no channel given")
    if len(channels) > MAX_CHANNELS:
        raise ParameterError(f"channel {value!r}: up to {MAX_CHANNELS} channels (Cellpose 4)")
    seen: set[int | str] = set()
    for c in channels:
        key = c.lower() if isinstance(c, str) else c
        if key in seen:
            raise ParameterError(f"channel {value!r}: channel {c!r} given twice")
        seen.add(key)
    return channels[0] if len(channels) == 1 else channels


#: the process umask, read once (:data:`napari_batchseg._atomic_text.UMASK`)
_UMASK = UMASK


#: the ``positions`` value (any case) that means every position, as ``None`` or ``""`` do
ALL_POSITIONS = "all"
#: most positions one ``positions`` value may list (a range such as ``0-99999999`` is a typo)
MAX_POSITIONS = 100_000


def _parse_positions(value: Any) -> list[int | str] | None:
    """``None`` (all), or the positions listed: indices, ``A-B`` ranges (expanded) and names, each once."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", ALL_POSITIONS)):
        return None
    if isinstance(value, str):
        items: list[Any] = [v.strip() for v in value.split(",")]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):  # list, array, range
        items = [v.strip() if isinstance(v, str) else v for v in itertools.islice(value, MAX_POSITIONS + 1)]
        if not items:  # (e.g. a name filter that matched nothing: not every position)
            raise ParameterError(f"positions {value!r}: no position listed (None or '': every position)")
    else:
        items = [value]
    alls = [i for i in items if isinstance(i, str) and i.lower() == ALL_POSITIONS]
    if alls and len(items) == 1:  # a list of it alone (YAML ``positions: [all]``) means all, as the text does
        return None
    if alls:
        raise ParameterError(f"positions {value!r}: {alls[0]!r} (every position) listed with other "
                             "positions; give either all, or the positions to segment")
    out: dict[int | str, None] = {}  # (in order, each once: a list's "in" made 0-99998 take a minute)
    for item in items:
        out.update(dict.fromkeys(_one_position(value, item)))
        if len(out) > MAX_POSITIONS:
            raise ParameterError(f"positions {value!r}: more than {MAX_POSITIONS:,} positions")
    return list(out)


def _one_position(value: Any, item: Any) -> list[int | str]:
    """The positions one entry of ``positions`` stands for (an index, a range, or a name)."""
    if isinstance(item, float) and item.is_integer():
        item = int(item)
    if not isinstance(item, bool) and isinstance(item, numbers.Integral):
        item = operator.index(item)  # (NumPy integers too)
        if item < 0:
            raise ParameterError(f"positions {value!r}: position {item} is negative (indices count from 0)")
        return [item]
    if not isinstance(item, str):
        raise ParameterError(f"positions {value!r}: {item!r} is neither a 0-based index nor a position name")
    if not item:
        raise ParameterError(f"positions {value!r}: an empty entry (use e.g. '0,2,5-7')")
    if re.fullmatch(r"[0-9]+", item):
        return [int(item)]
    m = re.fullmatch(r"([0-9]+)\s*-\s*([0-9]+)", item)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        if b < a:
            raise ParameterError(f"positions {value!r}: range {item!r} ends before it starts")
        if b - a >= MAX_POSITIONS:
            raise ParameterError(f"positions {value!r}: range {item!r} holds more than {MAX_POSITIONS:,}")
        return list(range(a, b + 1))
    if re.fullmatch(r"-\s*[0-9]+", item):
        raise ParameterError(f"positions {value!r}: position {item} is negative (indices count from 0)")
    return [item]


def _as_bool(name: str, value: Any) -> bool:
    """``value`` as a bool: true or false (or 1 / 0) only (a YAML ``debug: "false"``, a string, is truthy)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # (``gpu: 1`` in a parameter file, as accepted before)
        return bool(value)
    if getattr(value, "dtype", None) is not None and getattr(value.dtype, "kind", "") == "b":
        return bool(value)  # numpy's bool
    raise ParameterError(f"{name} must be true or false, got {value!r}")


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be an integer, got {value!r}") from None
    if not math.isfinite(as_float) or as_float != int(as_float):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    return int(as_float)


def _as_pair(name: str, value: Any) -> tuple[int, int] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        parts = [p for p in re.split(r"[x,\s]+", value.strip()) if p]
    else:
        parts = list(value)
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise ParameterError(f"{name} must be two integers such as '512,512', got {value!r}")
    a, b = (_as_int(name, v) for v in parts)
    if a <= 0 or b < 0 or (name == "tile_shape" and b == 0):
        raise ParameterError(f"{name} must be positive, got {value!r}")
    return (a, b)


def _check_z_mode(params: SegmentationParams) -> None:
    """Validate ``z_mode``, ``anisotropy`` and ``stitch_threshold`` (and the Z range of a volume)."""
    if params.z_mode not in Z_MODES:
        raise ParameterError(f"z_mode {params.z_mode!r} unknown; choose one of {', '.join(Z_MODES)}")
    if params.anisotropy is not None:
        if isinstance(params.anisotropy, bool):
            raise ParameterError(f"anisotropy must be a number, got {params.anisotropy!r}")
        try:
            params.anisotropy = float(params.anisotropy)
        except (TypeError, ValueError):
            raise ParameterError(f"anisotropy must be a number, got {params.anisotropy!r}") from None
        if not math.isfinite(params.anisotropy) or params.anisotropy <= 0:
            raise ParameterError(
                f"anisotropy must be a finite number > 0 (Z step / XY pixel size), got {params.anisotropy!r}"
            )
    if isinstance(params.stitch_threshold, bool):
        raise ParameterError(f"stitch_threshold must be a number, got {params.stitch_threshold!r}")
    try:
        params.stitch_threshold = float(params.stitch_threshold)
    except (TypeError, ValueError):
        raise ParameterError(f"stitch_threshold must be a number, got {params.stitch_threshold!r}") from None
    if not 0.0 <= params.stitch_threshold <= 1.0:  # NaN fails too
        raise ParameterError(
            f"stitch_threshold must be between 0 and 1 (an overlap, IoU), got {params.stitch_threshold!r}"
        )
    if params.z_mode != "project" and ZRange.parse(params.z_range).mode not in VOLUME_Z_RANGES:
        raise ParameterError(
            f"z_range {params.z_range!r} (best focus) is for z_mode 'project'; a volume ({params.z_mode}) "
            "takes 'all' or a range 'A-B'"
        )
