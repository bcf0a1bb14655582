"""What the "Measure and export" dock asks, decides and says, without Qt (``_napari._measure_widget``).

The Export section's controls (:data:`EXPORT_FIELDS`) and the
:class:`~napari_batchseg.export.ExportOptions` they stand for (:func:`export_options`); where a table row's
object lies in the viewer (:func:`row_target`); whether two layers can be compared
(:func:`evaluation_problem`); the jobs that measure and score layers' data, copying it in the worker
(:func:`measure_layer`, :func:`evaluate_layers`); the CSV written in a worker (:func:`write_csv`); the
status lines; the choices kept when layers change (:func:`image_to_select`, :func:`followed_mask`) and
the histogram's columns and bars (:func:`histogram_columns`, :func:`histogram_values`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..export import KINDS, ExportOptions, ExportResult
from ..io.atomic import atomic_path
from ..measure import TIME_COLUMN
from .dock_jobs import evaluate_job, measure_job, measure_volumes_job, pixel_size_yx, z_step_of
from .fields import Field, choices
from .layer_files import first_input_frame, first_input_slice, is_volume_result, layer_meta, path_text

__all__ = ["EXPORT_FIELDS", "EXPORT_UNSAVED_NOTE", "NONE", "NOTHING_TO_SAVE", "NO_TRUTH",
           "NO_TRUTH_PROBLEM", "UNSAVED_NOTE", "RowTarget", "cell_text", "evaluate_layers",
           "evaluation_problem", "export_options", "exported_text", "frame_interval", "intensity_frames",
           "intensity_of", "mask_file_layer", "measure_args", "measure_layer", "measured_text",
           "output_name", "planes_beside_volumes", "row_target", "table_file_name", "write_csv"]

#: the intensity image entry that means "no image"
NONE = "(none)"
#: the Evaluate section's Ground truth entry until the user chooses a layer (never chosen for them: a
#: result scored against whichever other Labels layer is open gives numbers that mean nothing)
NO_TRUTH = "(choose the ground truth)"
NO_TRUTH_PROBLEM = "choose the ground truth: the Labels layer to score the measured one against"
EXPORT_FIELDS = (
    Field("kind", "choice", "Kind", choices=choices(tuple(KINDS))),
    Field("pattern", "text", "Pattern", text=r"outlines: (?P<plate>P\d+)_(?P<well>[A-H]\d\d)_s(?P<site>\d+)"),
    Field("pattern_on", "choice", "Pattern in", value="file",
          choices=(("file", "file names"), ("position", "position names first")),
          tip="outlines: where the pattern is searched: the input's and the mask's file names, or the "
              "position's name first (a multi-position file's scenes named after wells, e.g. P1-B4)"),
    Field("test_fraction", "float", "Test fraction", 0.0, 0.9, step=0.05,
          tip="dacapo: fraction of frames (rows for one frame) kept as a test crop"),
    Field("overwrite", "check", text="Replace existing exports"),
)
#: Save CSV… before any table
#: what Measure, Measure the mask file and Export ask for when their layer or files are not chosen
NO_LABELS = "Choose a Labels layer."
NO_MASK_FILE = "Choose a mask file (Export section)."
NO_EXPORT_PATHS = "Choose a mask file and an output folder."
NOTHING_TO_SAVE = "Nothing to save yet: Measure a Labels layer (or the mask file) first."
#: *Measure the mask file* of a mask whose layer holds unsaved corrections: its table is not the layer's
UNSAVED_NOTE = (" (the file as saved: {name} has unsaved corrections, so its own table is unchanged; "
                "Measure it to see them)")
#: *Export* of a mask whose layer holds unsaved corrections (a walk: they were left out without a word)
EXPORT_UNSAVED_NOTE = (" The file as saved: {name} has unsaved corrections, not in this export; save them "
                       "(Correct tab) and export again to include them.")

class RowTarget(NamedTuple):
    """Where the viewer goes for a row (world coordinates), and the label selected there."""

    t: float | None  # ``None``: the layer has no T axis
    z: float | None  # ``None``: not a volume table
    y: float
    x: float
    label: int


def image_to_select(images: Sequence[str], current: str, chosen: bool) -> int | None:
    """The *Intensity image* entry to select once the layer list changed (``None``: keep the current).

    ``images``: :data:`NONE`, then the Image layers' names. The current entry is kept while listed,
    :data:`NONE` only when the user picked it (``chosen``); otherwise the first Image layer is taken.
    """
    kept = current in images and (current != NONE or chosen)
    return None if kept or len(images) < 2 else 1


def followed_mask(layer_mask: str, shown: str, filled: str) -> str | None:
    """The Export section's mask once another Labels layer is chosen (``None``: the field stays).

    It follows the layer's mask file (``layer_mask``) unless the user typed or picked another mask:
    ``shown`` is the field's text, ``filled`` the mask it was last filled with from a layer.
    """
    return layer_mask if layer_mask and shown in ("", filled) else None


def histogram_columns(table: pd.DataFrame) -> list[str]:
    """The columns the histogram offers: the numeric ones but ``position`` (a label, not a measure)."""
    return [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c]) and c != "position"]


def histogram_values(table: pd.DataFrame, column: str) -> tuple[NDArray[np.float64], int]:
    """The values of ``column`` drawn (numbers only) and the number of bars: 5 to 30, a third of them."""
    values = pd.to_numeric(table[column], errors="coerce").dropna().to_numpy(dtype=float)
    return values, min(30, max(5, values.size // 3))


def export_options(values: Mapping[str, Any]) -> ExportOptions:
    """The export options of the Export section's ``values`` (an empty pattern is none).

    ``pattern_on`` (where the pattern is searched; :data:`~napari_batchseg.export.images.PATTERN_ON`):
    the file names when not given.
    """
    return ExportOptions(overwrite=bool(values["overwrite"]), pattern=str(values["pattern"]).strip() or None,
                         pattern_on=str(values.get("pattern_on") or "file"),
                         test_fraction=float(values["test_fraction"]))


def exported_text(result: ExportResult, folder: str) -> str:
    """The status line of a finished export: how many files, where, and the masks left out."""
    text = f"Wrote {sum(len(v) for v in result.outputs.values())} file(s) in {folder}."
    if result.failed:
        first = next(iter(result.failed.values()))
        more = f" (and {len(result.failed) - 1} more)" if len(result.failed) > 1 else ""
        text += f" Not exported: {first}{more}"
    return text


def cell_text(value: object) -> str:
    """A table cell as the docks show it: numbers to 4 significant digits, a missing one (NaN) empty."""
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def measured_text(table: pd.DataFrame, layer_name: str | None, moved_on_to: str | None = None) -> str:
    """The status line of a shown table (a file's table names its file when no layer shows it).

    ``moved_on_to``: the layer shows another output now (a run's next file), named so.
    """
    name = layer_name if layer_name is not None else (table["file"].iloc[0] if len(table) else "the file")
    later = f" (its layer shows {moved_on_to} now)" if moved_on_to is not None else ""
    return f"{len(table)} object(s) in {name}{later}."


def row_target(table: pd.DataFrame, row: int, scale: Sequence[float], translate: Sequence[float],
               ndim: int, first_frame: int = 0, first_z: int = 0) -> RowTarget | None:
    """Where the object of ``row`` lies in world coordinates of a layer (``scale``, ``translate``).

    ``None`` when the table has no such row. T is the world T of the row's frame (an input frame; the
    layer's frame 0 is input frame ``first_frame``), for a ``(T, Y, X)`` or ``(T, Z, Y, X)`` layer; Z, the
    object's centroid slice, for a volume table (``centroid_z_px``, an input slice: the layer's slice 0 is
    input slice ``first_z``) of a layer with a Z axis.
    """
    if not 0 <= row < len(table):
        return None
    rec = table.iloc[row]
    y = float(rec["centroid_y_px"]) * scale[-2] + translate[-2]
    x = float(rec["centroid_x_px"]) * scale[-1] + translate[-1]
    volume = "centroid_z_px" in table.columns and ndim >= 3
    z = (float(rec["centroid_z_px"]) - first_z) * scale[-3] + translate[-3] if volume else None
    t = (int(rec["frame"]) - first_frame) * scale[0] + translate[0] if ndim == 3 + volume else None
    return RowTarget(t, z, y, x, int(rec["label"]))


def evaluation_problem(pred_shape: tuple[int, ...] | None, gt_shape: tuple[int, ...] | None,
                       same_layer: bool, truth_chosen: bool = True) -> str | None:
    """Why a prediction and a ground truth cannot be compared (``None`` shape: no layer), or ``None``.

    ``truth_chosen``: the user chose the ground truth (else :data:`NO_TRUTH_PROBLEM`).
    """
    if not truth_chosen and pred_shape is not None:
        return NO_TRUTH_PROBLEM
    if pred_shape is None or gt_shape is None or same_layer:
        return "choose two different Labels layers"
    if same_pixels(pred_shape, gt_shape):
        return None
    shown = " and ".join("x".join(map(str, s)) for s in (pred_shape, gt_shape))
    return f"the layers differ in shape ({shown})"


def same_pixels(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether two layer shapes hold the same pixels, but for leading axes of length one.

    E.g. a single image's ``(1, Y, X)`` result against its ``(Y, X)`` ground truth or image.
    """

    def squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(shape)
        while len(shape) > 2 and shape[0] == 1:
            shape = shape[1:]
        return shape

    return squeezed(a) == squeezed(b)


def intensity_frames(image_shape: tuple[int, ...], labels_shape: tuple[int, ...],
                     first_frame: int = 0, volume: bool = False) -> slice | None:
    """The frames of an image layer that hold a Labels layer's pixels (``None``: none do).

    The same pixels (:func:`same_pixels`): all of it. A time series ``(T, Y, X)`` beside a result of
    some of its frames (``first_frame`` on, as its log says): those frames (a walk: a 6-frame result
    over its 53-frame input was measured without intensities, where ``batchseg measure`` had them). Volumes
    alike: a ``(T, Z, Y, X)`` input beside a result of some of its time points, or one's ``(Z, Y, X)``.

    ``volume``: the Labels layer is a volume run's result (:func:`~.layer_files.is_volume_result`). A
    3-D Labels layer beside a ``(T, Z, Y, X)`` image is one time point's volume only then: its shape does
    not tell a 2D time series of as many frames as the image has slices (a review: a 5-frame ``(T, Y, X)``
    result beside a ``(5, 5, Y, X)`` input took time point 0's slices as its frames) from a volume; not
    said, none (:func:`planes_beside_volumes`). Nor is a 3-D volume lined up with a time series' frames.
    """
    image_shape, labels_shape = tuple(image_shape), tuple(labels_shape)
    if same_pixels(image_shape, labels_shape):
        return slice(None)
    if len(image_shape) not in (3, 4):
        return None
    each: tuple[int, ...]
    if (volume and len(labels_shape) == 3) or len(labels_shape) == len(image_shape) - 1 == 2:
        n, each = 1, labels_shape  # one time point's volume; one frame of a time series
    elif len(labels_shape) == len(image_shape):  # frames; time points (a (T, Z, Y, X) layer is volumes)
        n, each = labels_shape[0], labels_shape[1:]
    else:  # (a 3-D layer beside a (T, Z, Y, X) image not said to be a volume: (T, Y, X) frames? no guess)
        return None
    if image_shape[1:] == each and first_frame + n <= image_shape[0]:
        return slice(first_frame, first_frame + n)
    return None


def planes_beside_volumes(image_shape: tuple[int, ...], labels_shape: tuple[int, ...], volume: bool) -> bool:
    """Whether a 3-D Labels layer not known as a volume result lies beside a 4-D (``(T, Z, Y, X)``) image.

    Its frames are 2D results (e.g. of projected planes; a 2D time series) or one time point's volume: its
    shape does not say which, so it is not lined up (:func:`intensity_frames`), and the docks say why (nor
    does a 4-D image's shape say that its leading axis is T: a ``(P, T, Y, X)`` input's is positions).
    """
    return (not volume and len(image_shape) == 4 and len(labels_shape) == 3
            and tuple(labels_shape[-2:]) == tuple(image_shape[-2:]))


def intensity_of(image_layer: Any, labels_shape: tuple[int, ...],
                 first_frame: int = 0, volume: bool = False) -> tuple[slice | None, str]:
    """The frames of ``image_layer`` (the Intensity image; ``None``: none) to measure, and a status note.

    As :func:`intensity_frames` beside a Labels layer of ``labels_shape`` (``volume``: a volume run's
    result); ``(None, "")`` without an image, ``(None, note)`` when its shape fits the labels in no way
    or in a way its metadata does not say (measured without intensities).
    """
    if image_layer is None:
        return None, ""
    shape = tuple(image_layer.data.shape)
    frames = intensity_frames(shape, labels_shape, first_frame, volume)
    lead = str((tuple(getattr(image_layer, "axis_labels", ()) or ("",)))[0]).upper()
    if frames is not None and frames != slice(None) and not volume and lead == "Z":
        # 2D results beside a still Z stack (its axes say Z): made of projected (or chosen) slices, not
        # of its first slices (a review: they got slice 0's intensities)
        return None, (f" {image_layer.name}: a Z stack {shape}, and the labels {tuple(labels_shape)} are "
                      "2D results of its planes (projected or chosen as their log says: batchseg measure "
                      "prepares them so); no intensities.")
    if frames is None and planes_beside_volumes(shape, labels_shape, volume):
        return None, (f" {image_layer.name}: 4-D {shape}, and the labels {tuple(labels_shape)} "
                      "are not a volume result (2D frames or one time point's volume: not said); "
                      "no intensities.")
    if frames is None:
        return None, f" {image_layer.name}: its shape differs from the labels'; no intensities."
    return frames, ""


def mask_file_layer(layers: Iterable[Any], mask: str | Path, unsaved: str = UNSAVED_NOTE) -> tuple[Any, str]:
    """The Labels layer of ``layers`` opened from the mask file ``mask``, to take the file's table.

    Returns ``(layer, "")``; ``(None, "")`` when none was opened from it; ``(None, note)`` when that
    layer holds unsaved corrections (a walk: the file's table replaced an edited layer's own): the
    ``unsaved`` text with the layer's name.
    """
    path = path_text(mask)  # (no resolve(): the GUI thread asks; a review)
    layer = next((lay for lay in layers
                  if (shown := layer_meta(lay).get("mask_path")) and path_text(shown) == path), None)
    if layer is not None and layer_meta(layer).get("dirty"):
        return None, unsaved.format(name=layer.name)
    return layer, ""


def measure_layer(labels: Any, image: Any, pixel_size: tuple[float | None, float | None] | None,
                  name: str, first_frame: int = 0, image_frames: slice = slice(None),
                  interval: float | None = None, position: int = 0,
                  position_name: str | None = None, z_step: float | None = None,
                  volume: bool = False, first_z: int = 0) -> pd.DataFrame:
    """The object table of a Labels layer's data (worker: the copy of a layer being edited is taken here).

    ``image``: intensities, its ``image_frames`` (:func:`intensity_frames`) shaped as ``labels`` here.
    ``first_frame``: the input frame of the layer's frame 0 (a mask of frames 3-9 is numbered 3-9, as
    ``batchseg measure`` numbers it). ``interval``: seconds between frames, which adds ``time_s`` after
    ``frame`` (input frame times it), as ``batchseg measure`` does. ``name``: the ``file`` column
    (:func:`table_file_name`); ``position``: the input's (a multi-position file's, from the layer's
    metadata). A ``(T, Z, Y, X)`` layer (a volume run's) is measured a volume per time point, with the
    Z step ``z_step`` (µm), as ``batchseg measure`` measures a volume mask; a ``(Z, Y, X)`` one alike
    when ``volume`` (its metadata says it is a volume result), else as a 2D time series. ``first_z``: the
    input slice of the layer's slice 0 (Z centroids and boxes in input slices, as ``batchseg measure``).
    """
    labels = np.array(labels)
    if volume and labels.ndim == 3:  # one time point's volume
        labels = labels[None]
    pixels = None if image is None else np.asarray(image[image_frames]).reshape(labels.shape)
    if labels.ndim == 4:
        table = measure_volumes_job(labels, pixels, pixel_size, z_step, name, first_z)
    else:
        table = measure_job(labels, pixels, pixel_size, name)
    if first_frame and "frame" in table:
        table["frame"] += first_frame
    if position and "position" in table:
        table["position"] = int(position)
    if position_name is not None and "position_name" in table:
        table["position_name"] = position_name
    if interval is not None and "frame" in table and TIME_COLUMN not in table:
        table.insert(table.columns.get_loc("frame") + 1, TIME_COLUMN, table["frame"] * float(interval))
    return table


def measure_args(layer: Any, image_layer: Any) -> tuple[tuple[Any, ...], str]:
    """:func:`measure_layer`'s arguments for a Labels layer and an image (``None``: none), and a note."""
    meta = layer_meta(layer)
    first = first_input_frame(meta)
    volume = is_volume_result(meta)
    frames, note = intensity_of(image_layer, layer.data.shape, first, volume)
    image = None if frames is None else image_layer.data
    # (the file column and time_s as batchseg measure writes them)
    return (layer.data, image, pixel_size_yx(meta), table_file_name(meta, layer.name), first,
            frames or slice(None), frame_interval(meta), int(meta.get("position") or 0),
            meta.get("position_name"), z_step_of(meta), volume, first_input_slice(meta)), note


def table_file_name(meta: Mapping[str, Any], layer_name: str) -> str:
    """The ``file`` column of a layer's table: its mask file's name, as ``batchseg measure`` writes it.

    A layer with no mask file (drawn, or its file rewritten since): the layer's name. A walk: the dock's
    tables named the layer where the command line's named the file, so they did not join.
    """
    path = meta.get("mask_path")
    return Path(str(path)).name if path else layer_name


def output_name(layer: Any) -> str:
    """The output a result layer shows now, as its status names it: its mask file's name (else its own)."""
    return table_file_name(layer_meta(layer), layer.name)


def frame_interval(meta: Mapping[str, Any]) -> float | None:
    """Seconds between a result layer's frames, from its ``batchseg`` metadata (``None``: not known)."""
    t = (meta.get("pixel_size") or {}).get("t")
    return None if t is None else float(t)


def evaluate_layers(pred: Any, gt: Any, first_frame: int = 0) -> pd.DataFrame:
    """Scores of a prediction layer's data against a ground-truth layer's (worker: copies taken here).

    Rows are numbered by input frame (``first_frame``: the prediction's frame 0), as the measure table.
    """
    scores = evaluate_job(np.array(pred), np.array(gt))
    if first_frame and "frame" in scores:
        scores["frame"] = [f + first_frame if f != "all" else f for f in scores["frame"]]  # (not overall's)
    return scores


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` to ``path`` atomically (run in a worker); return the path."""
    with atomic_path(Path(path)) as tmp:
        table.to_csv(tmp, index=False)
    return Path(path)
