"""Where training frames come from: corrected ``_vSM`` masks, Cellpose image/mask pairs, arrays.

Each source gives :class:`~napari_batchseg.training.data.TrainingFrame` lists (see
:mod:`napari_batchseg.training.data` for the frame types, the frame selection and the validation split);
:func:`collect_training_data` walks files and folders and picks the source for each mask.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from numpy.typing import NDArray

from .._labels import open_mask_stack
from ..errors import InputError, describe
from ..input_check import check_input
from ..io.arrays import path_list
from ..io.atomic import sha256_file
from ..io.masks import read_embedded_log, read_mask
from ..io.naming import KEPT_TAG, MASK_EXT, is_kept_copy, is_segmentation_mask
from ..io.reader import open_source
from ..io.sources import SourceInfo
from ..measure_3d import is_volume_mask, mask_volumes
from ..params import ParameterError
from ..prepare import prepare_frame, resolve_channel
from ..prepare_3d import prepare_volume, volume_z
from ..provenance import parse_log
from .data import (
    IMAGE_SUFFIXES,
    MASK_SUFFIXES,
    FrameSelection,
    SkippedFrame,
    TrainingData,
    _add_frame,
    _logged_frames,
    _select,
    check_usable,
    corrected_frames,
)

__all__ = [
    "collect_training_data",
    "find_training_inputs",
    "frames_from_arrays",
    "frames_from_pair",
    "frames_from_volume_vsm",
    "frames_from_vsm",
    "is_pair_mask",
    "is_vsm_mask",
    "kept_copies",
]


def frames_from_arrays(
    image: NDArray[Any],
    labels: NDArray[Any],
    name: str = "array",
    frames: FrameSelection = "all",
    min_masks: int = 5,
) -> TrainingData:
    """Training frames from an image and a label array, e.g. napari layers.

    Parameters
    ----------
    image
        ``(Y, X)`` or ``(T, Y, X)`` image (one channel), or ``(T, Z, Y, X)`` volumes (e.g. the layers of
        a volume run): each XY slice ``(t, z)`` is then one pair, as for volume masks.
    labels
        Label image of the same shape.
    name
        Name used in reports and the provenance file (e.g. the layer name).
    frames, min_masks
        Frame choice and the minimum number of objects for a frame to be used.
    """
    img = np.asarray(image)
    lab = np.asarray(labels)
    if img.shape != lab.shape:
        raise InputError(
            f"{name}: image and mask have different shapes (image {img.shape}, mask {lab.shape})"
        )
    if img.ndim == 2:
        img, lab = img[None], lab[None]
    if img.ndim not in (3, 4):
        raise InputError(f"{name}: expected a (Y, X), (T, Y, X) or (T, Z, Y, X) image, got shape {img.shape}")
    data = TrainingData()
    if frames == "corrected":
        raise ParameterError(f"{name}: 'corrected' frames need a _vSM mask whose log records corrections")
    for i in _select(img.shape[0], frames, None, name):
        if img.ndim == 3:
            _add_frame(data, img[i], lab[i], name, i, min_masks, preparation={"source": "array"})
            continue
        for z in range(img.shape[1]):  # a volume: its XY slices
            prep = {"source": "array", "z": z, "slice_axes": "yx"}
            _add_frame(data, img[i, z], lab[i, z], name, i, min_masks, None, prep, z)
    data.files[name] = hashlib.sha256(
        np.ascontiguousarray(img).tobytes() + np.ascontiguousarray(lab).tobytes()
    ).hexdigest()
    return data


def _image_for_mask(mask_path: Path) -> Path:
    name = mask_path.name
    for suffix in MASK_SUFFIXES:
        if name.lower().endswith(suffix):
            base = name[: -len(suffix)]
            for ext in IMAGE_SUFFIXES:
                candidate = mask_path.with_name(base + ext)
                if candidate.is_file():
                    return candidate
            raise InputError(
                f"{mask_path}: no image for this mask (looked for {base}.tif and {base}.tiff beside it)"
            )
    raise InputError(f"{mask_path}: not a <name>_masks.tif file")


def frames_from_pair(
    image_path: str | Path,
    mask_path: str | Path,
    frames: FrameSelection = "all",
    min_masks: int = 5,
    channel: int = 0,
    axes: str | None = None,
    force_labels: bool = False,
) -> TrainingData:
    """Training frames from a ``<name>.tif`` + ``<name>_masks.tif`` pair (Cellpose's layout).

    The mask is read as every other command reads masks (:func:`~napari_batchseg._labels.open_mask_stack`:
    a plain multi-page TIFF needs ``axes="TYX"``; labels are checked, ``force_labels`` skips the check
    that they do not look like an intensity image). The image is ``(Y, X)`` or ``(T, Y, X)`` like its
    mask; an image with one more axis of at most 4 channels, first or last, uses ``channel``.
    """
    image_path, mask_path = Path(image_path), Path(mask_path)
    with open_mask_stack(mask_path, axes, force_labels) as stack:
        lab = np.stack([stack.frame(i) for i in range(stack.n_frames)])
    if lab.shape[0] == 1:
        lab = lab[0]
    try:
        img = tifffile.imread(image_path)
    except Exception as exc:
        raise InputError(f"{image_path}: cannot read image: {describe(exc)}") from exc
    prep: dict[str, Any] = {"source": "image/mask pair", "image": str(image_path), "mask": str(mask_path)}
    if img.ndim == lab.ndim + 1 and img.shape[-1] <= 4 and img.shape[:-1] == lab.shape:
        img = img[..., channel]
        prep["channel"] = channel
    elif img.ndim == lab.ndim + 1 and img.shape[-3] <= 4 and img.shape[:-3] + img.shape[-2:] == lab.shape:
        img = np.take(img, channel, axis=-3)
        prep["channel"] = channel
    if img.shape != lab.shape:
        raise InputError(
            f"{image_path.name} and {mask_path.name}: image and mask have different shapes "
            f"(image {img.shape}, mask {lab.shape})"
        )
    if lab.ndim == 2:
        img, lab = img[None], lab[None]
    if lab.ndim != 3:
        raise InputError(f"{mask_path}: expected a (Y, X) or (T, Y, X) mask, got shape {lab.shape}")
    if frames == "corrected":
        raise ParameterError(
            f"{mask_path.name}: 'corrected' frames need a _vSM mask whose log records corrections"
        )
    data = TrainingData()
    group = str(mask_path)
    for i in _select(lab.shape[0], frames, None, str(mask_path)):
        _add_frame(data, img[i], lab[i], group, i, min_masks, preparation=prep)
    data.files[str(image_path)] = sha256_file(image_path)
    data.files[str(mask_path)] = sha256_file(mask_path)
    return data


def _find_input(logged: Path | None, mask_path: Path) -> Path:
    if logged is None:
        raise InputError(f"{mask_path}: its log names no input file, so its frames cannot be prepared")
    if logged.is_file():
        return logged
    beside = mask_path.with_name(logged.name)
    if beside.is_file():
        return beside
    nor = f" (nor {beside})" if beside.absolute() != logged.absolute() else ""  # (once when it was beside)
    raise InputError(
        f"{mask_path}: the input its log names, {logged}, does not exist{nor}; "
        "the training image cannot be prepared without it: put it back, or copy it beside the mask"
    )


def frames_from_vsm(
    mask_path: str | Path, frames: FrameSelection = "all", min_masks: int = 5
) -> TrainingData:
    """Training frames from a ``_vSM.ome.tif`` mask, its input prepared exactly as its log says.

    A volume mask (``TZYX``, ``z_mode`` 3d / stitch) gives one training pair per XY slice of each chosen
    volume (:func:`frames_from_volume_vsm`).

    Raises
    ------
    InputError
        The mask has no napari-batchseg log, its input is missing, or the prepared frames do not
        match the mask (shape, Z slices) as the log recorded them.
    """
    mask_path = Path(mask_path)
    if is_volume_mask(mask_path):
        return frames_from_volume_vsm(mask_path, frames, min_masks)
    mask = read_mask(mask_path)
    setup = _VsmSetup(mask_path, mask.log_text, mask.labels.shape[0], frames)
    data = TrainingData()
    if frames == "corrected" and not setup.chosen:
        return setup.nothing_corrected(data)
    params, position = setup.params, setup.position
    with open_source(setup.input_path, axes=params.axes) as src:
        channel = resolve_channel(src.info, setup.channel)
        for i in setup.chosen:
            t, z_logged = setup.records[i]
            frame = prepare_frame(src, position, t, channel, params.zrange, params.z_projection)
            if z_logged is not None and frame.z_used != z_logged:
                raise InputError(
                    f"{mask_path} frame {i}: preparing {setup.input_path.name} now uses Z slices "
                    f"{frame.z_used}, its log recorded {z_logged}: the input has changed since it was "
                    "segmented"
                )
            prep = setup.preparation(src.info, channel, t, i)
            prep.update(z_projection=params.z_projection, z_used=frame.z_used, best_focus=frame.best_focus)
            _add_frame(data, frame.image, mask.labels[i], str(mask_path), i, min_masks, t, prep)
    return setup.finish(data)


def frames_from_volume_vsm(
    mask_path: str | Path, frames: FrameSelection = "all", min_masks: int = 5
) -> TrainingData:
    """Training pairs from a volume ``_vSM.ome.tif`` mask (``TZYX``): one per XY slice of a chosen volume.

    Cellpose trains 2D networks, also for 3D use (its own 3D training trains on 2D slices). Each chosen
    time point's input volume is prepared as the run prepared it
    (:func:`~napari_batchseg.prepare_3d.prepare_volume`: its channel and Z slices, as the log says) and
    each ``(t, z)`` slice with at least ``min_masks`` objects is one pair; the others are skipped and
    reported. Only XY slices are taken. One volume of the mask and of its input is read at a time.
    ``frames`` chooses time points (0-based along the mask's T axis).

    Raises
    ------
    InputError
        As :func:`frames_from_vsm`; also when the mask's volumes differ in size from the input's.
    """
    mask_path = Path(mask_path)
    with tifffile.TiffFile(mask_path) as tf:
        series = tf.series[0]
        n_t = int(series.shape[series.axes.index("T")]) if "T" in series.axes else 1
    setup = _VsmSetup(mask_path, read_embedded_log(mask_path), n_t, frames)
    data = TrainingData()
    if frames == "corrected" and not setup.chosen:
        return setup.nothing_corrected(data)
    params, position, chosen = setup.params, setup.position, set(setup.chosen)
    with open_source(setup.input_path, axes=params.axes) as src:
        channel = resolve_channel(src.info, setup.channel)
        zs = volume_z(src.info, params.zrange)
        for i, labels in enumerate(mask_volumes(mask_path)):
            if i not in chosen:
                continue
            t, z_logged = setup.records[i]
            if z_logged is not None and zs != z_logged:
                raise InputError(
                    f"{mask_path} frame {i}: the input {setup.input_path.name} now gives Z slices "
                    f"{zs[0]}-{zs[-1]}, its log recorded {z_logged[0]}-{z_logged[-1]}: the input has "
                    "changed since it was segmented"
                )
            volume = prepare_volume(src, position, t, channel, zs, None).image
            if volume.shape != labels.shape:
                raise InputError(
                    f"{mask_path} frame {i}: mask volume {labels.shape} but the prepared input volume of "
                    f"{setup.input_path.name} is {volume.shape}"
                )
            for k, z in enumerate(zs):
                prep = setup.preparation(src.info, channel, t, i)
                prep.update(z_mode=params.z_mode, z=z, mask_slice=k, slice_axes="yx")
                _add_frame(data, volume[k], labels[k], str(mask_path), i, min_masks, t, prep, z)
            del volume, labels  # one volume at a time
    return setup.finish(data)


class _VsmSetup:
    """What a ``_vSM`` mask's log says for training: its input, channel, position and chosen frames."""

    def __init__(self, mask_path: Path, log_text: str, n: int, frames: FrameSelection) -> None:
        self.mask_path = mask_path
        try:
            logged = parse_log(log_text)
        except ValueError as exc:
            raise InputError(f"{mask_path}: {exc}") from exc
        self.params = params = logged.params
        if params.method != "cellpose" and params.method != "sam":  # pragma: no cover - params validate
            raise InputError(f"{mask_path}: unknown method {params.method!r} in its log")
        self.input_path = _find_input(logged.input_path, mask_path)
        check_input(self.input_path, logged.input_identity, params, logged.position or 0, mask_path,
                    "segment it again (a mask over another image would teach the model wrong labels)")
        self.records = _logged_frames(log_text)
        if len(self.records) != n:
            raise InputError(
                f"{mask_path}: its log records {len(self.records)} frame(s) but the mask holds {n}; "
                "cannot tell which input frame each mask frame is"
            )
        self.corrected = corrected_frames(log_text)
        self.chosen = _select(n, frames, self.corrected, str(mask_path))
        self.position = logged.position or 0
        channel = params.channel
        if isinstance(channel, list):
            if len(channel) != 1:
                raise InputError(
                    f"{mask_path}: segmented from {len(channel)} channels {channel} (Cellpose 4); "
                    "Cellpose 3 training takes one channel"
                )
            channel = channel[0]
        self.channel: int | str = channel

    def nothing_corrected(self, data: TrainingData) -> TrainingData:
        """``data`` with the note that no frame was chosen (``frames="corrected"`` and none recorded)."""
        reason = "no corrected frames recorded in its log"
        kept = kept_copies(self.mask_path)
        if kept:  # the corrections an overwrite moved aside (a walk: the message named none of them)
            names = ", ".join(p.name for p in kept)
            reason += (f"; the hand-corrected mask a later run replaced is kept beside it as {names} "
                       "(a folder leaves kept copies out: give that file to train on it)")
        data.skipped.append(SkippedFrame(str(self.mask_path), -1, reason))
        return data

    def preparation(self, info: SourceInfo, channel: int, t: int, index: int) -> dict[str, Any]:
        """The provenance record shared by 2D frames and volume slices."""
        return {
            "source": "_vSM mask",
            "input": str(self.input_path),
            "position": self.position,
            "t": t,
            "channel": channel,
            "channel_name": info.channel_names[channel],
            "z_range": str(self.params.z_range),
            "corrected": index in self.corrected,
        }

    def finish(self, data: TrainingData) -> TrainingData:
        """``data`` with the hashes of the mask and its input."""
        data.files[str(self.mask_path)] = sha256_file(self.mask_path)
        data.files[str(self.input_path)] = sha256_file(self.input_path)
        return data


def is_vsm_mask(path: str | Path) -> bool:
    """Whether a file name is a segmentation output, ``*_vSM[-suffix].ome.tif``.

    Not the tracked copy of one (``-tracked.ome.tif``, written by ``batchseg track``): a walk's folder
    stopped training with "unknown parameter(s): daughter_share, ..." from its log.
    """
    return is_segmentation_mask(path)


def kept_copies(mask_path: Path) -> list[Path]:
    """The kept hand-corrected copies of a ``_vSM`` mask beside it (``<base>.corrected[-<k>].ome.tif``)."""
    name = mask_path.name
    if not name.endswith(MASK_EXT):
        return []
    head = name[: -len(MASK_EXT)] + KEPT_TAG
    try:
        children = list(mask_path.parent.iterdir())
    except OSError:
        return []
    return sorted((p for p in children if p.name.startswith(head) and is_kept_copy(p) and p.is_file()
                   and (p.name == head + MASK_EXT or p.name[len(head)] == "-")),
                  key=lambda p: (len(p.name), p.name))


def is_pair_mask(path: str | Path) -> bool:
    """Whether a file name is a Cellpose-layout mask, ``<name>_masks.tif``."""
    return Path(path).name.lower().endswith(MASK_SUFFIXES)


def find_training_inputs(inputs: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """``(kind, mask path)`` for each mask found: ``"vsm"`` or ``"pair"``; folders are not recursed.

    Raises
    ------
    InputError
        An input does not exist, or a file is neither kind (nor an image with a ``_masks`` partner).
    """
    found: list[tuple[str, Path]] = []
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if not child.is_file():
                    continue
                if is_vsm_mask(child):
                    found.append(("vsm", child))
                elif is_pair_mask(child):
                    found.append(("pair", child))
        elif path.is_file():
            if is_vsm_mask(path) or is_kept_copy(path):  # (a kept corrected copy, when named: a review)
                found.append(("vsm", path))
            elif is_pair_mask(path):
                found.append(("pair", path))
            else:
                partner = [path.with_name(path.stem + s) for s in MASK_SUFFIXES]
                existing = [p for p in partner if p.is_file()]
                if not existing:
                    raise InputError(
                        f"{path}: not a mask (*_vSM.ome.tif or <name>_masks.tif) and no "
                        f"{partner[0].name} beside it"
                    )
                found.append(("pair", existing[0]))
        else:
            raise InputError(f"{path}: no such file or folder")
    unique: dict[Path, str] = {}
    for kind, p in found:
        unique.setdefault(p.resolve(), kind)
    return [(kind, p) for p, kind in unique.items()]


def _as_inputs(inputs: str | Path | Iterable[str | Path]) -> list[str | Path]:
    """``inputs`` as a list: one path is one input (it was a sequence of its characters).

    An array is a :class:`TypeError` naming :func:`frames_from_arrays`.
    """
    return path_list(inputs, lambda item: TypeError(
        f"training inputs are files and folders, not an array (got {type(item).__name__} of shape "
        f"{getattr(item, 'shape', '?')}): pass frames_from_arrays(image, labels, name) "
        "(napari_batchseg.training) for images and masks in memory"
    ))


def collect_training_data(
    inputs: str | Path | Iterable[str | Path],
    frames: FrameSelection = "all",
    min_masks: int = 5,
    channel: int = 0,
    axes: str | None = None,
    force_labels: bool = False,
) -> TrainingData:
    """Training frames from files and folders (``_vSM`` masks and ``<name>_masks.tif`` pairs).

    Parameters
    ----------
    inputs
        Mask files, images with a ``_masks`` partner, or folders holding them (one path, or several).
    frames
        ``"all"``, ``"corrected"`` or 0-based mask frame indices (applied to every input).
    min_masks
        Frames with fewer objects are skipped and reported.
    channel
        Channel of multi-channel images in image/mask pairs (``_vSM`` masks use their log's channel).
    axes, force_labels
        How pair masks are read (see :func:`frames_from_pair`).

    Raises
    ------
    InputError
        No masks at all; every frame skipped (the message lists why); a bad file.
    TypeError
        An array among ``inputs`` (:func:`frames_from_arrays` makes training frames of arrays).
    """
    inputs = _as_inputs(inputs)
    masks = find_training_inputs(inputs)
    if not masks:
        raise InputError(
            "no masks found in " + ", ".join(map(str, inputs))
            + " (looked for *_vSM.ome.tif masks and <name>.tif + <name>_masks.tif pairs)"
        )
    data = TrainingData()
    for kind, path in masks:
        if kind == "vsm":
            data.extend(frames_from_vsm(path, frames, min_masks))
        else:
            data.extend(frames_from_pair(_image_for_mask(path), path, frames, min_masks, channel, axes,
                                         force_labels))
    check_usable(data, min_masks)
    return data
