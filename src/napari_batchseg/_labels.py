"""Label masks and the image they were made from, read frame by frame for measuring and exporting.

:func:`open_mask_stack` opens a label mask lazily (any TIFF/OME-TIFF the readers accept, usually a
``_vSM.ome.tif``), checks that it holds non-negative integer labels and reads its embedded log.
:func:`resolve_source` finds the input image and how it was prepared (channel, Z range, projection, first
frame, position) from that log, or from explicit overrides when the log is missing or the image moved.
:class:`PreparedImage` then yields the prepared frame that was segmented, plus extra channels prepared
with the same Z slices.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InputError
from .input_check import check_input
from .io.labelcheck import check_looks_like_labels, label_values
from .io.masks import read_embedded_log
from .io.reader import open_source, stem_of
from .io.sources import ImageSource, PixelSize
from .params import ZRange
from .prepare import check_z_range, prepare_frame, project, resolve_channel
from .provenance import segmentation_run

__all__ = [
    "LabelStack",
    "PreparedImage",
    "SourceSpec",
    "check_label_frame",
    "check_start_frame",
    "mask_base",
    "open_mask_stack",
    "resolve_source",
]

def mask_base(path: str | Path) -> str:
    """A mask's name without its image extension (``a_vSM-x.ome.tif`` -> ``a_vSM-x``)."""
    return stem_of(path)


def check_label_frame(frame: NDArray[Any], path: str | Path, index: int) -> NDArray[Any]:
    """``frame`` as labels (integers >= 0; whole-number floats become ``uint32``), else :class:`InputError`.

    The rule is :func:`~napari_batchseg.io.labelcheck.label_values`.
    """
    return label_values(frame, path, index)


class LabelStack:
    """A label mask opened lazily: ``n_frames`` frames of shape ``shape_yx``.

    Use :func:`open_mask_stack` to create one; close it (or use ``with``) to release the file.
    ``dtype`` is the labels' type as :meth:`frame` returns them (``uint32`` for a float file).
    """

    def __init__(self, path: Path, source: ImageSource, log_text: str) -> None:
        self.path = path
        self._source = source
        self.log_text = log_text
        info = source.info
        if info.sizes["C"] != 1 or info.sizes["Z"] != 1 or info.sizes["P"] != 1:
            source.close()
            raise InputError(
                f"{path}: not a label mask: expected one frame stack (T, Y, X), got {info.describe()}"
            )
        self.n_frames = info.sizes["T"]
        self.shape_yx = (info.sizes["Y"], info.sizes["X"])
        self.pixel_size: PixelSize = info.pixel_size
        self.dtype = np.dtype(info.dtype)
        if self.dtype.kind == "f":
            self.dtype = np.dtype(np.uint32)  # whole numbers, checked frame by frame
        elif self.dtype.kind not in "uib":
            source.close()
            raise InputError(
                f"{path}: not a label mask: values are {self.dtype} (labels must be integers >= 0)"
            )

    def frame(self, index: int) -> NDArray[Any]:
        """Labels of frame ``index`` (checked: integers >= 0)."""
        return check_label_frame(self._source.read_plane(0, index, 0, 0), self.path, index)

    def check_looks_like_labels(self) -> None:
        """Raise :class:`InputError` when the file looks like an intensity image rather than labels.

        The first non-empty frame of frames 0, middle and last is judged
        (:func:`~napari_batchseg.io.labelcheck.check_looks_like_labels`).
        """
        for index in sorted({0, self.n_frames // 2, self.n_frames - 1}):
            frame = self.frame(index)
            if frame.any():
                check_looks_like_labels(frame, self.path, index)
                return

    def close(self) -> None:
        """Release the file."""
        self._source.close()

    def __enter__(self) -> LabelStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_mask_stack(path: str | Path, axes: str | None = None, force_labels: bool = False) -> LabelStack:
    """Open a label mask (``_vSM.ome.tif`` or any 2D/``TYX`` integer TIFF) lazily.

    Parameters
    ----------
    path
        The mask file.
    axes
        Axes override for a file whose own axes are ambiguous (a plain multi-page TIFF: ``"TYX"``),
        with the rules of the input images' override (:func:`~napari_batchseg.io.reader.open_source`).
    force_labels
        Skip the check that a file without a napari-batchseg log looks like labels rather than an
        intensity image (:mod:`~napari_batchseg.io.labelcheck`).

    Raises
    ------
    InputError
        When the file is missing, unreadable, ambiguous without ``axes``, not integer labels, or looks
        like an intensity image.
    """
    path = Path(path)
    source = open_source(path, axes)
    try:
        log_text = read_embedded_log(path) if source.info.format in ("ome-tiff", "tiff") else ""
    except BaseException:
        source.close()
        raise
    stack = LabelStack(path, source, log_text)
    if not force_labels and not log_text.strip():
        try:
            stack.check_looks_like_labels()
        except BaseException:
            stack.close()
            raise
    return stack


@dataclass
class SourceSpec:
    """Where a mask's pixels came from and how the segmented frame was prepared.

    Attributes
    ----------
    image
        The input image file.
    channel
        Channel (index or name) that was segmented.
    z_range, z_projection
        Z preparation (see :class:`~napari_batchseg.params.ZRange`).
    start_frame
        Input frame of the mask's first frame.
    position
        Position (field of view) of the input.
    position_name
        Its name (a well, a scene: ``B02``) as the log records it, else as the input names it (filled
        when the image is opened, :class:`PreparedImage`); ``None`` when the position is not known.
    axes
        Axes override of the input, if the run used one.
    from_log
        Whether these come from the mask's embedded log.
    identity
        The input identity the log records (size, modification time, planes' sha256), checked when the
        image is opened; empty when an image is given in its place.
    params
        The segmentation parameters recorded in the log (empty without one).
    channel_given
        Whether the channel was stated (by the log or the caller) rather than defaulted.
    start_given
        Whether ``start_frame`` was stated (by the log or the caller) rather than defaulted.
    position_given
        Whether ``position`` was stated (by the log or the caller) rather than defaulted.
    """

    image: Path
    channel: int | str = 0
    z_range: str = "all"
    z_projection: str = "mean"
    start_frame: int = 0
    position: int = 0
    axes: str | None = None
    from_log: bool = False
    identity: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    channel_given: bool = False
    start_given: bool = False
    position_name: str | None = None
    position_given: bool = False


def check_start_frame(mask: Path, logged: int, given: int | None) -> None:
    """Raise :class:`InputError` when ``--start-frame`` (``given``) is not the first frame a mask's log says.

    ``--start-frame`` is for masks without a log, or with ``--image`` (another image's frames); given for
    a mask whose log states its frames, it renamed them (and paired them with other input frames).
    """
    if given is not None and int(given) != int(logged):
        raise InputError(f"{mask}: its log says its first frame is input frame {logged}, not --start-frame "
                         f"{given} (--start-frame is for masks without a log, or with the --image given)")


def resolve_source(
    mask: LabelStack,
    image: str | Path | None = None,
    channel: int | str | None = None,
    z_range: str | None = None,
    z_projection: str | None = None,
    start_frame: int | None = None,
    position: int | None = None,
    image_axes: str | None = None,
) -> SourceSpec:
    """The input image and its preparation for ``mask``: from its log, with explicit values winning.

    Without a readable log, ``image`` is required, and so are ``channel`` when the image has several
    channels and ``z_range``/``z_projection`` when it has several Z slices (checked when it is opened).
    ``image_axes`` overrides the image's axes (a plain multi-page TIFF: ``"TYX"``; default: the log's).

    ``start_frame`` is for masks without a log, or with ``image`` given (another image's frames).

    Raises
    ------
    InputError
        When the log is missing or unreadable and ``image`` is not given; when ``start_frame`` is not
        the first frame the log states and ``image`` is not given (it renamed the mask's frames and
        paired them with other frames of the logged input).
    """
    spec: SourceSpec | None = None
    if mask.log_text.strip():
        try:
            run = segmentation_run(mask.log_text)  # (a tracked mask: the segmentation log it carries)
        except (ValueError, KeyError, TypeError):
            run = None
        if run is not None and run.input_path is not None:
            p = run.params
            # a mask made from several channels (Cellpose 4) is measured on the first of them
            first = p.channel[0] if isinstance(p.channel, list) else p.channel
            spec = SourceSpec(
                image=run.input_path, channel=first, z_range=str(p.z_range),
                z_projection=p.z_projection, start_frame=int(p.start_frame),
                position=int(run.position or 0), axes=p.axes, from_log=True, params=p.to_dict(),
                identity=dict(run.input_identity), position_name=run.position_name,
            )
    if spec is None:
        if image is None:
            raise InputError(
                f"{mask.path}: its segmentation log is missing or unreadable: give the input image "
                "(--image) and how it was prepared (--image-channel, --z-range, --z-projection)"
            )
        spec = SourceSpec(image=Path(image), channel=0 if channel is None else channel)
        spec.z_range = z_range or ""
        spec.z_projection = z_projection or ""
    else:
        if image is None:
            check_start_frame(mask.path, spec.start_frame, start_frame)
        if image is not None:  # the user's image, in place of the logged one: not checked against it
            spec.image, spec.identity = Path(image), {}
        if channel is not None:
            spec.channel = channel
        if z_range is not None:
            spec.z_range = z_range
        if z_projection is not None:
            spec.z_projection = z_projection
    if start_frame is not None:
        if int(start_frame) < 0:  # (an IndexError deep in the reader, naming no option)
            raise InputError(f"{mask.path}: start frame {start_frame} is negative (input frames count "
                             "from 0)")
        spec.start_frame = int(start_frame)
    if position is not None:
        if int(position) != spec.position:
            spec.position_name = None  # (the log's name is another position's)
        spec.position = int(position)
    if image_axes is not None:
        spec.axes = image_axes
    spec.channel_given = channel is not None or spec.from_log
    spec.start_given = start_frame is not None or spec.from_log
    spec.position_given = position is not None or spec.from_log
    return spec


class PreparedImage:
    """The input image of a mask, giving the prepared frame of each mask frame.

    Checks on opening: the image exists and is readable, its ``Y, X`` equal the mask's, it has the
    mask's frames, the channel and Z range fit. Every error names both files.
    """

    def __init__(self, mask: LabelStack, spec: SourceSpec, extra_channels: Sequence[int | str] = ()) -> None:
        self.mask = mask
        self.spec = spec
        if not spec.image.exists():
            raise InputError(
                f"{mask.path}: input image {spec.image} not found (moved? give its new place with --image)"
            )
        if spec.from_log and spec.params and spec.identity:  # (not an image given in its place: --image)
            check_input(spec.image, spec.identity, spec.params, spec.position, mask.path,
                        "segment it again, or give the image it was made from (--image)")
        self.source = open_source(spec.image, spec.axes)
        try:
            info = self.source.info
            self.info = info
            if not spec.from_log:
                if info.sizes["C"] > 1 and not spec.channel_given:
                    raise InputError(
                        f"{mask.path}: its log is missing and {spec.image.name} has {info.sizes['C']} "
                        "channels: say which one was segmented (--image-channel)"
                    )
                if info.sizes["Z"] > 1 and not (spec.z_range and spec.z_projection):
                    raise InputError(
                        f"{mask.path}: its log is missing and {spec.image.name} has {info.sizes['Z']} Z "
                        "slices: give --z-range and --z-projection"
                    )
            spec.z_range = spec.z_range or "all"
            spec.z_projection = spec.z_projection or "mean"
            self.zrange = ZRange.parse(spec.z_range)
            check_z_range(info, self.zrange)
            self.channel = resolve_channel(info, spec.channel)
            self.extra = [(str(c), resolve_channel(info, c)) for c in extra_channels]
            yx = (info.sizes["Y"], info.sizes["X"])
            if yx != mask.shape_yx:
                raise InputError(
                    f"{mask.path}: mask is {mask.shape_yx[0]}x{mask.shape_yx[1]} pixels but its image "
                    f"{spec.image} is {yx[0]}x{yx[1]}"
                )
            n_t = info.sizes["T"]
            if not spec.start_given and mask.n_frames != n_t:
                raise InputError(
                    f"{mask.path}: mask has {mask.n_frames} frame(s) but its image {spec.image} has "
                    f"{n_t} and no log says which they are: give the input frame of the mask's first "
                    "frame (--start-frame)"
                )
            if spec.start_frame + mask.n_frames > n_t:
                raise InputError(
                    f"{mask.path}: mask has {mask.n_frames} frame(s) from frame {spec.start_frame} but its "
                    f"image {spec.image} has {n_t} frame(s)"
                )
            if not 0 <= spec.position < info.sizes["P"]:
                raise InputError(
                    f"{mask.path}: position {spec.position} not in {spec.image} ({info.sizes['P']} positions)"
                )
            if spec.position_given and not spec.position_name and spec.position < len(info.position_names):
                spec.position_name = info.position_names[spec.position]  # (a log that names none)
        except BaseException:
            self.source.close()
            raise
        if said := other_pixel_size(mask.path, mask.pixel_size, spec.image, info.pixel_size):
            warnings.warn(said, UserWarning, stacklevel=2)

    @property
    def pixel_size(self) -> PixelSize:
        """The mask's pixel size, else the image's; the mask's time increment, else the image's.

        Where both are known and differ, a :class:`UserWarning` said so when the image was opened
        (:func:`other_pixel_size`).
        """
        ps = self.mask.pixel_size
        if ps.x is None or ps.y is None:
            ps = dataclasses.replace(self.info.pixel_size, t=ps.t)
        return ps if ps.t is not None else dataclasses.replace(ps, t=self.info.pixel_size.t)

    def frame(self, index: int) -> tuple[NDArray[Any], dict[str, NDArray[Any]]]:
        """The prepared ``(Y, X)`` float32 image of mask frame ``index`` and each extra channel."""
        t = self.spec.start_frame + index
        prepared = prepare_frame(
            self.source, self.spec.position, t, self.channel, self.zrange, self.spec.z_projection
        )
        extras: dict[str, NDArray[Any]] = {}
        for name, c in self.extra:
            stack = self.source.read_zstack(self.spec.position, t, c, prepared.z_used)
            extras[name] = (
                stack[0].astype(np.float32) if self.info.sizes["Z"] == 1
                else project(stack, self.spec.z_projection)
            )
        return prepared.image, extras

    def close(self) -> None:
        """Release the image file."""
        self.source.close()

    def __enter__(self) -> PreparedImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def other_pixel_size(mask: Path, own: PixelSize, image: Path, given: PixelSize) -> str:
    """What to say when a mask's pixel size (µm) and its image's differ, both known (``""``: they agree).

    The mask's own is used (:attr:`PreparedImage.pixel_size`: measurements and exports of a mask have its
    calibration, whichever image is given): said, with both values, so that a mask whose calibration is
    wrong (e.g. a mask without a log saved by another tool) is not measured in the wrong µm silently.
    """
    if own.x is None or own.y is None or given.x is None or given.y is None:
        return ""
    if math.isclose(own.x, given.x, rel_tol=1e-3) and math.isclose(own.y, given.y, rel_tol=1e-3):
        return ""

    def shown(ps: PixelSize) -> str:
        return f"{ps.x:g} µm" if ps.x == ps.y else f"{ps.y:g} x {ps.x:g} µm (y x)"

    return (f"{mask}: its pixel size, {shown(own)}, differs from that of its image {image}, {shown(given)}; "
            f"the mask's {shown(own)} is used for the µm columns (if the image's is right, correct the "
            "mask's calibration)")
