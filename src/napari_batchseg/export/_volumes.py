"""A volume mask (``TZYX``, from ``z_mode`` 3d / stitch) opened for export, with its input volumes.

The mask is read one time point at a time (:func:`~napari_batchseg.measure_3d.mask_volumes`); its input,
when an export needs pixels, is the one its log names (or ``--image`` with ``--image-channel``,
``--z-range`` and ``--start-frame``), read one volume at a time too. Everything is checked when the
mask is opened, before any export writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from numpy.typing import NDArray

from .._labels import check_start_frame, mask_base
from ..errors import InputError, describe
from ..io.masks import read_embedded_log, read_mask_pixel_size
from ..io.sources import PixelSize
from ..measure_3d import VolumeInput, mask_volumes
from ..params import ZRange
from ..provenance import LoggedRun, parse_log
from ._common import ExportOptions, input_frame_count, unknown_preparation

__all__ = ["VolumeItem", "open_volume_input"]


@dataclass
class VolumeItem:
    """One volume mask opened for export (``n_frames`` time points of ``shape_zyx`` volumes).

    ``source`` reads the input volumes (``None`` when the export needs no pixels); ``start`` is the
    input frame of the mask's first time point, ``z_first`` the input Z slice of its first slice (a run
    with ``--z-range``); ``n_input_frames`` the input's time points when known; ``position`` and
    ``position_name`` the input's position (0-based) and its name as the log records them (``None``
    without a log); ``channel`` the one segmented as the log (or ``--image-channel``) names it.
    """

    path: Path
    log_text: str
    pixel_size: PixelSize
    n_frames: int
    shape_zyx: tuple[int, int, int]
    start: int = 0
    source: VolumeInput | None = None
    n_input_frames: int | None = None
    image_path: Path | None = None
    z_first: int = 0
    position: int | None = None
    position_name: str | None = None
    channel: int | str | None = None

    @property
    def base(self) -> str:
        """The mask's name without extension (``a_vSM``)."""
        return mask_base(self.path)

    @property
    def input_name(self) -> str | None:
        """File name of the input image, when known."""
        return self.image_path.name if self.image_path is not None else None

    @property
    def time_series(self) -> bool:
        """Whether the mask's time points are frames of a movie (several, or one of several)."""
        return self.n_frames > 1 or self.start > 0 or (self.n_input_frames or 1) > 1

    def volumes(self) -> Iterator[NDArray[Any]]:
        """The mask's ``(Z, Y, X)`` label volumes, one at a time."""
        return mask_volumes(self.path)

    def image_volume(self, index: int) -> NDArray[np.float32]:
        """The input volume (float32) of the mask's time point ``index``."""
        if self.source is None:
            raise InputError(f"{self.path}: no input image opened")
        vol = self.source.volume(index)
        assert vol is not None
        return np.asarray(vol, np.float32)

    def source_record(self) -> dict[str, Any]:
        """What the provenance file says of the input: image, preparation, segmentation parameters.

        The preparation is the opened input's; without one (a kind that reads no pixels), what the log
        says (its channel as it names it, the mask's slices from its first input slice); without a log
        or an image either, that it is not known (:func:`unknown_preparation`).
        """
        params = None
        with contextlib.suppress(ValueError, KeyError, TypeError):
            params = parse_log(self.log_text).params.to_dict() if self.log_text.strip() else None
        src = self.source
        if src is not None:
            preparation = {
                "channel": src.channel, "z_slices": list(src.zs), "start_frame": src.start,
                "position": src.position, "position_name": src.position_name, "from_log": bool(params),
            }
        elif params or self.image_path is not None:
            slices = list(range(self.z_first, self.z_first + self.shape_zyx[0]))
            preparation = {
                "channel": self.channel, "z_slices": slices, "start_frame": self.start,
                "position": self.position or 0, "position_name": self.position_name, "from_log": bool(params),
            }
        else:
            preparation = unknown_preparation()
        return {
            "source_image": str(self.image_path) if self.image_path is not None else None,
            "preparation": preparation,
            "segmentation_parameters": params,
        }

    def close(self) -> None:
        """Release the input file."""
        if self.source is not None:
            self.source.close()


def _mask_layout(path: Path) -> tuple[int, tuple[int, int, int], Any]:
    try:
        with tifffile.TiffFile(path) as tf:
            series = tf.series[0]
            axes, shape, dtype = series.axes, tuple(series.shape), series.dtype
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one line naming it
        raise InputError(f"{path}: cannot read the mask: {describe(exc)}") from exc
    if not axes.endswith("ZYX") or axes[:-3] not in ("", "T"):
        raise InputError(f"{path}: a volume mask must be TZYX or ZYX, not {axes} {shape}")
    if np.dtype(dtype).kind not in "ui":
        raise InputError(f"{path}: a volume mask holds integer labels, not {np.dtype(dtype).name}")
    n_t = shape[0] if axes[0] == "T" else 1
    return int(n_t), (int(shape[-3]), int(shape[-2]), int(shape[-1])), dtype


def _logged_run(log_text: str) -> LoggedRun | None:
    if not log_text.strip():
        return None
    try:
        return parse_log(log_text)
    except (ValueError, KeyError, TypeError):
        return None


def _check_input(item: VolumeItem, source: VolumeInput) -> None:
    assert source.source is not None
    sizes = source.source.info.sizes
    zyx = (len(source.zs), int(sizes["Y"]), int(sizes["X"]))
    if zyx != item.shape_zyx:
        raise InputError(f"{item.path}: mask volumes are {item.shape_zyx} (Z, Y, X) but its input "
                         f"{item.image_path} gives {zyx}")
    if source.start + item.n_frames > int(sizes["T"]):
        raise InputError(f"{item.path}: mask has {item.n_frames} time point(s) from frame {source.start} but "
                         f"its input {item.image_path} has {sizes['T']}")


def open_volume_input(
    mask: str | Path, options: ExportOptions, want_image: bool, need_image: bool
) -> VolumeItem:
    """Open the volume mask ``mask``; :class:`InputError` if bad.

    With ``want_image`` its input is opened too when known (its log, or ``options.image``); with
    ``need_image`` a mask whose input is unknown is an error.
    """
    path = Path(mask)
    n_t, zyx, _dtype = _mask_layout(path)
    log_text = read_embedded_log(path)
    run = _logged_run(log_text)
    image = run.input_path if run is not None else None
    start = int(run.params.start_frame or 0) if run is not None else 0
    channel: int | str | None = None
    z_range = None
    if run is not None:  # what the run segmented: the defaults of an image given by hand
        logged = run.params.channel
        channel = logged[0] if isinstance(logged, (list, tuple)) else logged
        z_range = run.params.z_range
    if options.image is not None or run is None:  # the image given by hand, or no log: the options say
        start = int(options.start_frame) if options.start_frame is not None else start
        channel = options.image_channel if options.image_channel is not None else channel
        z_range = options.z_range or z_range
    else:
        check_start_frame(path, start, options.start_frame)
    n_input = input_frame_count(log_text) if run is not None else None
    z_first = ZRange.parse(z_range or "all").first_volume_slice
    item = VolumeItem(path, log_text, read_mask_pixel_size(path), n_t, zyx, start, None, n_input, image,
                      z_first, run.position if run is not None else None,
                      run.position_name if run is not None else None, channel)
    if not (want_image or need_image):
        return item
    if options.image is not None:
        item.image_path = Path(options.image)
        source = VolumeInput.from_image(path, options.image, channel, z_range, start, options.image_axes)
    elif image is not None:
        source = VolumeInput(path, log_text)
    elif not need_image:
        return item
    else:
        raise InputError(f"{path}: its log is missing (or names no input): give the input image of this "
                         "volume mask (--image, with --image-channel and --z-range if needed)")
    try:
        _check_input(item, source)
        if source.source is not None:
            item.n_input_frames = int(source.source.info.sizes["T"])
            item.z_first = source.zs[0]
    except BaseException:
        source.close()
        raise
    item.source = source
    return item

