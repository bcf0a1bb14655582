"""Collect training pairs (prepared image, label image) for Cellpose training.

Three kinds of input give the same :class:`TrainingFrame` list:

* ``<stem>_vSM[-suffix].ome.tif`` masks (corrected or not): the input named in the mask's embedded log
  is opened and each frame is prepared **exactly as the log says** (channel, Z range, projection,
  position, time frame) with the same :func:`~napari_batchseg.prepare.prepare_frame` the segmentation
  used; the Z slices used are checked against the log's per-frame records.
* image/mask pairs in Cellpose's layout, ``<name>.tif`` + ``<name>_masks.tif`` (2D, or a ``(T, Y, X)``
  stack of frames).
* arrays, e.g. a napari image layer and a Labels layer (:func:`frames_from_arrays`).

Frames are chosen per input (``"all"``, ``"corrected"``: the frames a correction record of the mask's
log names, or explicit 0-based indices along the mask's T axis); frames with fewer than ``min_masks``
objects are skipped and reported (:class:`SkippedFrame`). :meth:`TrainingData.split` makes a seeded
validation split by frame or by file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..io.masks import read_mask
from ..io.reader import open_source
from ..params import ParameterError
from ..prepare import prepare_frame, resolve_channel
from ..provenance import HISTORY_MARK, parse_log

#: Frame choice: ``"all"``, ``"corrected"`` or explicit 0-based indices along the mask's T axis.
FrameSelection = str | Sequence[int]

MASK_SUFFIXES = ("_masks.tif", "_masks.tiff")
IMAGE_SUFFIXES = (".tif", ".tiff")
_VSM_PATTERN = re.compile(r"_vSM(-[A-Za-z0-9-]*)?\.ome\.tiff?$")
_CORRECTION_PATTERN = re.compile(r"\| correction \| \w+ \| manual correction saved: frame\(s\) (.+?) edited")
_FRAME_RECORD = re.compile(r"\| \w+ \| \w+ \| frame t=(\d+): z ([0-9,\-]+)")
SPLITS = ("frame", "file")


@dataclass
class TrainingFrame:
    """One training pair and where it comes from.

    Attributes
    ----------
    image
        ``(Y, X)`` float32 prepared image (what a segmenter would see).
    labels
        ``(Y, X)`` label image, ids renumbered 1..N (0 = background).
    group
        The file the frame comes from (the unit of a by-file split).
    index
        0-based frame index along the mask's T axis.
    t
        Time frame in the input file (``None`` for arrays and pairs, where it equals ``index``).
    n_masks
        Number of objects in ``labels``.
    preparation
        How the image was made (for the provenance file).
    """

    image: NDArray[np.float32]
    labels: NDArray[Any]
    group: str
    index: int
    t: int | None = None
    n_masks: int = 0
    preparation: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``<group> frame <index>``."""
        return f"{self.group} frame {self.index}"


@dataclass
class SkippedFrame:
    """A frame left out, and why."""

    group: str
    index: int
    reason: str


@dataclass
class TrainingData:
    """Training frames, the frames skipped, and the files used (path -> sha256)."""

    frames: list[TrainingFrame] = field(default_factory=list)
    skipped: list[SkippedFrame] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    def extend(self, other: TrainingData) -> None:
        """Add another collection's frames, skipped frames and files."""
        self.frames.extend(other.frames)
        self.skipped.extend(other.skipped)
        self.files.update(other.files)

    def split(
        self, validation_fraction: float, by: str = "frame", seed: int = 0
    ) -> tuple[list[TrainingFrame], list[TrainingFrame]]:
        """Seeded split into ``(train, validation)`` frames.

        Parameters
        ----------
        validation_fraction
            Share of the frames (``by="frame"``) or files (``by="file"``) held out, rounded to the
            nearest whole number; between 0 and 1 (exclusive).
        by
            ``"frame"`` or ``"file"`` (all frames of a file go to the same side).
        seed
            Seed of the shuffle (``numpy.random.default_rng``).

        Raises
        ------
        InputError
            The split leaves no validation frame or no training frame.
        """
        if by not in SPLITS:
            raise ParameterError(f"split must be one of {', '.join(SPLITS)}, got {by!r}")
        if not 0 < validation_fraction < 1:
            raise ParameterError(
                f"validation fraction must be between 0 and 1 (exclusive), got {validation_fraction}: "
                "a validation split is needed to measure the model before and after training"
            )
        rng = np.random.default_rng(seed)
        if by == "file":
            groups = sorted({f.group for f in self.frames})
            n_val = int(round(validation_fraction * len(groups)))
            order = [groups[i] for i in rng.permutation(len(groups))]
            val_groups = set(order[:n_val])
            val = [f for f in self.frames if f.group in val_groups]
            train = [f for f in self.frames if f.group not in val_groups]
            unit, n_units = "file(s)", len(groups)
        else:
            n_val = int(round(validation_fraction * len(self.frames)))
            perm = rng.permutation(len(self.frames))
            val_idx = {int(i) for i in perm[:n_val]}
            val = [f for i, f in enumerate(self.frames) if i in val_idx]
            train = [f for i, f in enumerate(self.frames) if i not in val_idx]
            unit, n_units = "frame(s)", len(self.frames)
        if not val:
            raise InputError(
                f"empty validation split: validation fraction {validation_fraction} of {n_units} {unit} "
                f"rounds to 0; use a larger --validation-fraction or more training data"
                + (" (or --split frame)" if by == "file" else "")
            )
        if not train:
            raise InputError(
                f"no training frames left: validation fraction {validation_fraction} of {n_units} {unit} "
                "takes them all; use a smaller --validation-fraction or more training data"
            )
        return train, val


# --------------------------------------------------------------------------- helpers
def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_frames(text: str | Sequence[int] | None) -> FrameSelection:
    """Parse a frame choice: ``all``, ``corrected`` or ``0,3-5`` (0-based, inclusive ranges)."""
    if text is None:
        return "all"
    if not isinstance(text, str):
        return [int(v) for v in text]
    s = text.strip().lower()
    if s in ("all", "corrected"):
        return s
    out: list[int] = []
    for part in s.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ParameterError(
                f"frames {text!r} not understood; use 'all', 'corrected' or indices such as '0,3-5'"
            )
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        if b < a:
            raise ParameterError(f"frames {text!r}: range {part} ends before it starts")
        out.extend(range(a, b + 1))
    return sorted(set(out))


def corrected_frames(log_text: str) -> list[int]:
    """Mask frame indices (0-based along T) that the correction records of a mask's log name.

    Only the mask's own records are read (not the carried-along history of its input).
    """
    own = log_text.split(f"--- {HISTORY_MARK} ---", 1)[0]
    frames: set[int] = set()
    for m in _CORRECTION_PATTERN.finditer(own):
        for part in m.group(1).split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-", 1)
                frames.update(range(int(a), int(b) + 1))
            elif part:
                frames.add(int(part))
    return sorted(frames)


def _logged_frames(log_text: str) -> list[tuple[int, list[int]]]:
    """``(t, z slices)`` of each per-frame record of a segmentation log, in mask order."""
    own = log_text.split(f"--- {HISTORY_MARK} ---", 1)[0]
    out = []
    for m in _FRAME_RECORD.finditer(own):
        zs: list[int] = []
        for part in m.group(2).split(","):
            if "-" in part:
                a, b = part.split("-", 1)
                zs.extend(range(int(a), int(b) + 1))
            elif part:
                zs.append(int(part))
        out.append((int(m.group(1)), zs))
    return out


def _renumber(labels: NDArray[Any]) -> tuple[NDArray[Any], int]:
    """Ids 1..N in order of first appearance of the sorted ids (0 stays 0), and N."""
    from skimage.segmentation import relabel_sequential

    lab = np.asarray(labels)
    if lab.dtype.kind not in "ui":
        if lab.dtype.kind == "f" and np.all(np.mod(lab, 1) == 0):
            lab = lab.astype(np.int64)
        else:
            raise InputError(f"labels must be integers, got {lab.dtype}")
    if lab.size and lab.min() < 0:
        raise InputError("labels must be >= 0")
    out = relabel_sequential(lab)[0]
    n = int(out.max()) if out.size else 0
    dtype = np.uint16 if n <= np.iinfo(np.uint16).max else np.uint32
    return out.astype(dtype, copy=False), n


def _select(n: int, frames: FrameSelection, corrected: list[int] | None, what: str) -> list[int]:
    if isinstance(frames, str):
        if frames == "all":
            return list(range(n))
        if frames == "corrected":
            return [] if corrected is None else [i for i in corrected if i < n]
        raise ParameterError(f"frames must be 'all', 'corrected' or indices, got {frames!r}")
    bad = [i for i in frames if not 0 <= int(i) < n]
    if bad:
        raise InputError(f"{what}: frame(s) {bad} out of range; it has {n} frame(s) (0-{n - 1})")
    return sorted({int(i) for i in frames})


def _add_frame(
    data: TrainingData,
    image: NDArray[Any],
    labels: NDArray[Any],
    group: str,
    index: int,
    min_masks: int,
    t: int | None = None,
    preparation: dict[str, Any] | None = None,
) -> None:
    if image.shape != labels.shape:
        raise InputError(
            f"{group} frame {index}: image and mask have different shapes "
            f"(image {tuple(image.shape)}, mask {tuple(labels.shape)})"
        )
    lab, n = _renumber(labels)
    if n < min_masks:
        data.skipped.append(
            SkippedFrame(group, index, f"{n} object(s), fewer than min_masks={min_masks}")
        )
        return
    data.frames.append(
        TrainingFrame(
            np.asarray(image, dtype=np.float32), lab, group, index, t, n, dict(preparation or {})
        )
    )


# --------------------------------------------------------------------------- sources of frames
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
        ``(Y, X)`` or ``(T, Y, X)`` image (one channel).
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
    if img.ndim != 3:
        raise InputError(f"{name}: expected a (Y, X) or (T, Y, X) image, got shape {img.shape}")
    data = TrainingData()
    if frames == "corrected":
        raise ParameterError(f"{name}: 'corrected' frames need a _vSM mask whose log records corrections")
    for i in _select(img.shape[0], frames, None, name):
        _add_frame(data, img[i], lab[i], name, i, min_masks, preparation={"source": "array"})
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
) -> TrainingData:
    """Training frames from a ``<name>.tif`` + ``<name>_masks.tif`` pair (Cellpose's layout).

    The image is ``(Y, X)`` or ``(T, Y, X)`` like its mask; an image with one more axis of at most 4
    channels, first or last, uses ``channel``.
    """
    import tifffile

    image_path, mask_path = Path(image_path), Path(mask_path)
    try:
        img = tifffile.imread(image_path)
    except Exception as exc:
        raise InputError(f"{image_path}: cannot read image: {exc}") from exc
    try:
        lab = tifffile.imread(mask_path)
    except Exception as exc:
        raise InputError(f"{mask_path}: cannot read mask: {exc}") from exc
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
    raise InputError(
        f"{mask_path}: the input its log names, {logged}, does not exist (nor {beside}); "
        "the training image cannot be prepared without it"
    )


def frames_from_vsm(
    mask_path: str | Path, frames: FrameSelection = "all", min_masks: int = 5
) -> TrainingData:
    """Training frames from a ``_vSM.ome.tif`` mask, its input prepared exactly as its log says.

    Raises
    ------
    InputError
        The mask has no napari-batchseg log, its input is missing, or the prepared frames do not
        match the mask (shape, Z slices) as the log recorded them.
    """
    mask_path = Path(mask_path)
    mask = read_mask(mask_path)
    try:
        logged = parse_log(mask.log_text)
    except ValueError as exc:
        raise InputError(f"{mask_path}: {exc}") from exc
    params = logged.params
    if params.method != "cellpose" and params.method != "sam":  # pragma: no cover - params validate
        raise InputError(f"{mask_path}: unknown method {params.method!r} in its log")
    input_path = _find_input(logged.input_path, mask_path)
    records = _logged_frames(mask.log_text)
    n = mask.labels.shape[0]
    if len(records) != n:
        raise InputError(
            f"{mask_path}: its log records {len(records)} frame(s) but the mask holds {n}; "
            "cannot tell which input frame each mask frame is"
        )
    corrected = corrected_frames(mask.log_text)
    chosen = _select(n, frames, corrected, str(mask_path))
    data = TrainingData()
    if frames == "corrected" and not chosen:
        data.skipped.append(SkippedFrame(str(mask_path), -1, "no corrected frames recorded in its log"))
        return data
    position = logged.position or 0
    logged_channel = params.channel
    if isinstance(logged_channel, list):
        if len(logged_channel) != 1:
            raise InputError(
                f"{mask_path}: segmented from {len(logged_channel)} channels {logged_channel} (Cellpose 4); "
                "Cellpose 3 training takes one channel"
            )
        logged_channel = logged_channel[0]
    with open_source(input_path, axes=params.axes) as src:
        channel = resolve_channel(src.info, logged_channel)
        for i in chosen:
            t, z_logged = records[i]
            frame = prepare_frame(src, position, t, channel, params.zrange, params.z_projection)
            if frame.z_used != z_logged:
                raise InputError(
                    f"{mask_path} frame {i}: preparing {input_path.name} now uses Z slices {frame.z_used}, "
                    f"its log recorded {z_logged}: the input has changed since it was segmented"
                )
            prep = {
                "source": "_vSM mask",
                "input": str(input_path),
                "position": position,
                "t": t,
                "channel": channel,
                "channel_name": src.info.channel_names[channel],
                "z_range": str(params.z_range),
                "z_projection": params.z_projection,
                "z_used": frame.z_used,
                "best_focus": frame.best_focus,
                "corrected": i in corrected,
            }
            _add_frame(data, frame.image, mask.labels[i], str(mask_path), i, min_masks, t, prep)
    data.files[str(mask_path)] = sha256_file(mask_path)
    data.files[str(input_path)] = sha256_file(input_path)
    return data


def is_vsm_mask(path: str | Path) -> bool:
    """Whether a file name is a segmentation output, ``*_vSM[-suffix].ome.tif``."""
    return bool(_VSM_PATTERN.search(Path(path).name))


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
            if is_vsm_mask(path):
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


def collect_training_data(
    inputs: Iterable[str | Path],
    frames: FrameSelection = "all",
    min_masks: int = 5,
    channel: int = 0,
) -> TrainingData:
    """Training frames from files and folders (``_vSM`` masks and ``<name>_masks.tif`` pairs).

    Parameters
    ----------
    inputs
        Mask files, images with a ``_masks`` partner, or folders holding them.
    frames
        ``"all"``, ``"corrected"`` or 0-based mask frame indices (applied to every input).
    min_masks
        Frames with fewer objects are skipped and reported.
    channel
        Channel of multi-channel images in image/mask pairs (``_vSM`` masks use their log's channel).

    Raises
    ------
    InputError
        No masks at all; every frame skipped (the message lists why); a bad file.
    """
    inputs = list(inputs)
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
            data.extend(frames_from_pair(_image_for_mask(path), path, frames, min_masks, channel))
    check_usable(data, min_masks)
    return data


def check_usable(data: TrainingData, min_masks: int) -> None:
    """Raise :class:`InputError` when no frame is left, naming why each was skipped."""
    if data.frames:
        return
    if not data.skipped:
        raise InputError("no training frames: the inputs hold no frames")
    reasons = "; ".join(
        f"{Path(s.group).name}" + (f" frame {s.index}" if s.index >= 0 else "") + f": {s.reason}"
        for s in data.skipped[:10]
    )
    more = f" (and {len(data.skipped) - 10} more)" if len(data.skipped) > 10 else ""
    raise InputError(
        f"no training frames: all {len(data.skipped)} frame(s) were skipped (min_masks={min_masks}): "
        f"{reasons}{more}"
    )


def describe_frames(frames: list[TrainingFrame]) -> list[dict[str, Any]]:
    """Plain records of frames for the provenance file."""
    return [
        {"file": f.group, "frame": f.index, "t": f.t, "n_masks": f.n_masks, "shape": list(f.image.shape),
         "preparation": json.loads(json.dumps(f.preparation, default=str))}
        for f in frames
    ]
