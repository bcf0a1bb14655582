"""OME-TIFF label masks: streamed, atomic writing and reading back with metadata and embedded log.

A mask file holds a ``TYX`` label stack (uint16, or uint32 when a frame has more than 65,535 objects),
or a ``TZYX`` one for volumes (``z_mode`` 3d/stitch; written one volume at a time), OME-XML with dimension
order, one channel named ``"Segmentation mask"``, physical pixel sizes (X, Y and the
input's Z step), the input's time increment and the run log as a comment annotation.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import tifffile
from numpy.typing import NDArray

from .._version import __version__
from ..errors import InputError, OutputError, describe
from .atomic import atomic_path, partial_prefix
from .ome import local_name, ome_pixel_size
from .sources import PixelSize
from .tiff import imagej_pixel_size

MASK_CHANNEL_NAME = "Segmentation mask"
LOG_NAMESPACE = "napari-batchseg/log"
OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def count_objects(labels: NDArray[Any]) -> int:
    """Number of distinct non-zero ids in a label image."""
    counts = np.bincount(np.asarray(labels).ravel().astype(np.int64, copy=False))
    return int(np.count_nonzero(counts[1:]))


def label_dtype(max_label: int) -> np.dtype[Any]:
    """uint16 when every id fits, else uint32 (never uint64 on disk)."""
    if max_label <= np.iinfo(np.uint16).max:
        return np.dtype(np.uint16)
    if max_label <= np.iinfo(np.uint32).max:
        return np.dtype(np.uint32)
    raise OutputError(f"label id {max_label} does not fit in uint32")


def ome_xml(
    n_frames: int,
    shape_yx: tuple[int, int],
    dtype: np.dtype[Any],
    pixel_size: PixelSize | None = None,
    log_text: str = "",
    name: str = "",
    channel_name: str = MASK_CHANNEL_NAME,
    size_z: int = 1,
) -> str:
    """OME-XML for a ``TYX`` single-channel stack, with ``log_text`` as a comment annotation.

    ``size_z > 1``: a ``TZYX`` stack (``DimensionOrder`` ``XYZCT``: Z varies first after X and Y).

    Known sizes of ``pixel_size`` are written as ``PhysicalSizeX/Y/Z`` (µm) and ``TimeIncrement`` (s).
    """
    ps = pixel_size or PixelSize()
    phys = ""
    for axis, value in (("X", ps.x), ("Y", ps.y), ("Z", ps.z)):
        if value is not None:
            phys += f' PhysicalSize{axis}="{float(value)!r}" PhysicalSize{axis}Unit="µm"'
    if ps.t is not None:
        phys += f' TimeIncrement="{float(ps.t)!r}" TimeIncrementUnit="s"'
    ny, nx = shape_yx
    ann_ref = '<AnnotationRef ID="Annotation:0"/>' if log_text else ""
    ann = (
        "<StructuredAnnotations>"
        f'<CommentAnnotation ID="Annotation:0" Namespace="{LOG_NAMESPACE}">'
        f"<Value>{escape(log_text)}</Value></CommentAnnotation></StructuredAnnotations>"
        if log_text
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<OME xmlns="{OME_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{OME_NS} {OME_NS}/ome.xsd" Creator="napari-batchseg {__version__}">'
        f'<Image ID="Image:0" Name={quoteattr(name)}>'
        f'<Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="{np.dtype(dtype).name}" '
        f'SizeX="{nx}" SizeY="{ny}" SizeZ="{int(size_z)}" SizeC="1" SizeT="{n_frames}"{phys} '
        'BigEndian="false">'
        f'<Channel ID="Channel:0:0" Name={quoteattr(channel_name)} SamplesPerPixel="1"/>'
        f'<TiffData IFD="0" PlaneCount="{n_frames * int(size_z)}"/>'
        f"</Pixels>{ann_ref}</Image>{ann}</OME>"
    )


def _reserve(fd: int) -> None:
    """Allocate the whole file on disk (where the OS can), so running out of space fails early."""
    if not hasattr(os, "posix_fallocate"):
        return
    size = os.fstat(fd).st_size
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", -1)):
            return  # file system without preallocation: nothing more to do
        raise


class FrameStackWriter:
    """Collect ``n_frames`` planes in a disk-backed buffer, then write one TIFF atomically.

    Memory stays bounded by one frame: planes go to a temporary memory-mapped file (system temp
    folder) until :meth:`commit`, which writes the final file through :func:`atomic_path`.
    :meth:`abort` (or leaving a ``with`` block by an exception) removes everything temporary.
    """

    def __init__(
        self,
        path: str | Path,
        n_frames: int,
        frame_shape: tuple[int, ...],
        dtype: np.dtype[Any] | type = np.uint32,
    ) -> None:
        self.path = Path(path)
        self.n_frames = int(n_frames)
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.dtype = np.dtype(dtype)
        # The buffer lives beside the output (where the space is needed anyway; never a RAM-backed
        # /tmp) under a hidden partial name, and its space is reserved up front: a full disk is an
        # OutputError now rather than a crash (SIGBUS) in the middle of a run.
        try:
            fd, name = tempfile.mkstemp(
                prefix=partial_prefix(self.path), suffix=".buffer", dir=self.path.parent
            )
        except OSError as exc:
            raise OutputError(f"cannot write in {self.path.parent}: {exc.strerror or exc}") from exc
        os.close(fd)
        self._buffer_path = Path(name)
        self._closed = True  # until the buffer exists, abort() has nothing but the file to remove
        self._frame_bytes = int(np.prod(self.frame_shape)) * self.dtype.itemsize
        self._buffer: IO[bytes] | None = None
        try:
            # plain file I/O, not a memory map: written frames stay in the OS page cache instead of
            # counting as this process's memory, so peak memory does not grow with the movie length
            self._buffer = buf = open(name, "r+b")  # noqa: SIM115 - closed in abort()
            buf.truncate(self.n_frames * self._frame_bytes)
            _reserve(buf.fileno())
        except (OSError, ValueError) as exc:
            if self._buffer is not None:
                with contextlib.suppress(Exception):
                    self._buffer.close()
            with contextlib.suppress(OSError):
                self._buffer_path.unlink()
            raise OutputError(
                f"cannot reserve space for {self.path.name} in {self.path.parent}: {exc}"
            ) from exc
        self._written = np.zeros(self.n_frames, dtype=bool)
        self._closed = False


    def write_frame(self, index: int, data: NDArray[Any]) -> None:
        """Store frame ``index`` (0-based within this output)."""
        arr = np.asarray(data)
        if arr.shape != self.frame_shape:
            raise ValueError(f"frame shape {arr.shape} != expected {self.frame_shape}")
        buf = self._open_buffer()
        buf.seek(index * self._frame_bytes)
        buf.write(np.ascontiguousarray(arr, dtype=self.dtype).tobytes())
        self._written[index] = True

    def _open_buffer(self) -> IO[bytes]:
        if self._buffer is None:
            raise OutputError(f"{self.path}: the writer was already committed or aborted")
        return self._buffer

    @property
    def complete(self) -> bool:
        """Whether every frame has been written."""
        return bool(self._written.all())

    def _frames(self, dtype: np.dtype[Any]) -> Iterator[NDArray[Any]]:
        """The TIFF pages in order: a frame of more than one page (a ``Z`` volume) page by page."""
        buf = self._open_buffer()
        page_dims = 3 if self.frame_shape[-1:] == (3,) else 2
        page_shape = self.frame_shape[-page_dims:]
        for i in range(self.n_frames):
            buf.seek(i * self._frame_bytes)
            count = self._frame_bytes // self.dtype.itemsize
            frame = np.fromfile(buf, dtype=self.dtype, count=count)
            yield from frame.reshape((-1, *page_shape)).astype(dtype, copy=False)

    def commit(self, description: str | None = None, dtype: np.dtype[Any] | None = None) -> Path:
        """Write the final file atomically and release the buffer; return its path."""
        if not self.complete:
            missing = np.flatnonzero(~self._written).tolist()
            self.abort()
            raise OutputError(f"{self.path}: frames {missing[:10]} were never written")
        out_dtype = np.dtype(dtype or self.dtype)
        nbytes = self.n_frames * int(np.prod(self.frame_shape)) * out_dtype.itemsize
        try:
            with atomic_path(self.path) as tmp, tifffile.TiffWriter(tmp, bigtiff=nbytes > 2**31) as tw:
                tw.write(
                    self._frames(out_dtype),
                    shape=(self.n_frames, *self.frame_shape),
                    dtype=out_dtype,
                    description=description,
                    metadata=None,
                    photometric="rgb" if self.frame_shape[-1:] == (3,) else "minisblack",
                    compression="zlib",
                )
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        finally:
            self.abort()
        return self.path

    def abort(self) -> None:
        """Drop the buffer; nothing is written under the final name."""
        if self._closed:
            return
        self._closed = True
        buf, self._buffer = self._buffer, None
        if buf is not None:
            with contextlib.suppress(Exception):
                buf.close()
        with contextlib.suppress(OSError):
            self._buffer_path.unlink()

    def __enter__(self) -> FrameStackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.abort()


class MaskWriter(FrameStackWriter):
    """Streamed writer of a ``TYX`` label mask as OME-TIFF (dtype chosen from the largest id).

    ``shape_yx`` may be ``(Z, Y, X)``: a ``TZYX`` mask, each frame one volume.
    """

    def __init__(
        self,
        path: str | Path,
        n_frames: int,
        shape_yx: tuple[int, ...],
        pixel_size: PixelSize | None = None,
    ) -> None:
        if len(shape_yx) not in (2, 3):
            raise ValueError(f"a mask frame is (Y, X) or (Z, Y, X), got {shape_yx}")
        super().__init__(path, n_frames, shape_yx, np.uint32)
        self.pixel_size = pixel_size or PixelSize()
        self.max_label = 0

    def write_frame(self, index: int, data: NDArray[Any]) -> None:
        """Store the labels of frame ``index``."""
        arr = np.asarray(data)
        if arr.dtype.kind not in "ui":
            raise ValueError(f"labels must be integers, got {arr.dtype}")
        if arr.size and arr.min() < 0:
            raise ValueError("labels must be >= 0")
        top = int(arr.max()) if arr.size else 0
        self.max_label = max(self.max_label, top)
        label_dtype(top)  # raises if it cannot be stored
        super().write_frame(index, arr)

    def commit(self, log_text: str = "", dtype: np.dtype[Any] | None = None) -> Path:  # type: ignore[override]
        """Write the OME-TIFF with ``log_text`` embedded; return its path."""
        out_dtype = label_dtype(self.max_label) if dtype is None else np.dtype(dtype)
        xml = ome_xml(
            self.n_frames,
            (self.frame_shape[-2], self.frame_shape[-1]),
            out_dtype,
            self.pixel_size,
            log_text,
            name=self.path.name,
            size_z=self.frame_shape[0] if len(self.frame_shape) == 3 else 1,
        )
        # TIFF strings must be 7-bit ASCII: non-ASCII characters become XML character references
        ascii_xml = xml.encode("ascii", "xmlcharrefreplace").decode("ascii")
        return super().commit(description=ascii_xml, dtype=out_dtype)


def write_mask(
    path: str | Path,
    labels: NDArray[Any],
    pixel_size: PixelSize | None = None,
    log_text: str = "",
    volume: bool = False,
) -> Path:
    """Write a whole ``(T, Y, X)`` or ``(Y, X)`` label array as an OME-TIFF mask, atomically.

    ``volume=True``: ``labels`` is ``(T, Z, Y, X)`` (or one ``(Z, Y, X)`` volume), written as ``TZYX``.
    """
    arr = np.asarray(labels)
    if arr.ndim == (3 if volume else 2):
        arr = arr[None]
    if arr.ndim != (4 if volume else 3):
        raise ValueError(f"labels must be {'TZYX' if volume else '2D or 3D (TYX)'}, got shape {arr.shape}")
    writer = MaskWriter(path, arr.shape[0], arr.shape[1:], pixel_size)
    try:
        for i, frame in enumerate(arr):
            writer.write_frame(i, frame)
        return writer.commit(log_text)
    finally:
        writer.abort()


@dataclass
class MaskFile:
    """A mask read back from disk: ``labels`` is ``(T, Y, X)``, or ``(T, Z, Y, X)`` for a volume mask."""

    path: Path
    labels: NDArray[Any]
    pixel_size: PixelSize
    log_text: str
    channel_name: str

    @property
    def is_volume(self) -> bool:
        """Whether the mask holds volumes (``TZYX``, from ``z_mode`` 3d or stitch)."""
        return self.labels.ndim == 4


def _ome_log_and_meta(xml: str) -> tuple[str, PixelSize, str]:
    """Embedded log (this tool's comment annotations), pixel size (µm, time in s) and channel of OME-XML."""
    root = ET.fromstring(xml)
    size = PixelSize()
    channel = ""
    pix = next((el for el in root.iter() if local_name(el.tag) == "Pixels"), None)
    if pix is not None:
        size = ome_pixel_size(pix)
        ch = next((el for el in pix if local_name(el.tag) == "Channel"), None)
        channel = ch.get("Name", "") if ch is not None else ""
    logs = []
    for ann in root.iter():
        if local_name(ann.tag) != "CommentAnnotation":
            continue
        if ann.get("Namespace") not in (LOG_NAMESPACE, None):
            continue  # other tools' comments are not processing history
        value = next((el for el in ann if local_name(el.tag) == "Value"), None)
        if value is not None and value.text:
            logs.append(value.text)
    return "\n".join(logs), size, channel


def _imagej_size(tf: tifffile.TiffFile) -> PixelSize:
    """The ImageJ calibration of a TIFF without OME-XML (a Fiji label image), else no size."""
    return imagej_pixel_size(tf, tf.pages.first) if tf.is_imagej else PixelSize()


def read_mask(path: str | Path) -> MaskFile:
    """Read a mask OME-TIFF: labels as ``(T, Y, X)``, pixel size, embedded log and channel name.

    A volume mask (``z_mode`` 3d/stitch) reads as ``(T, Z, Y, X)`` (:attr:`MaskFile.is_volume`). A TIFF
    without OME-XML takes its pixel size from ImageJ metadata (a label image saved by Fiji).
    """
    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tf:
            series = tf.series[0]
            labels = series.asarray()
            axes = series.axes
            xml = tf.ome_metadata or ""
            imagej = PixelSize() if xml else _imagej_size(tf)
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise InputError(f"{path}: cannot read mask: {describe(exc)}") from exc
    labels = _as_tzyx(labels, axes) if "Z" in axes else (labels[None] if labels.ndim == 2 else labels)
    try:
        log_text, size, channel = _ome_log_and_meta(xml) if xml else ("", imagej, "")
    except ET.ParseError as exc:
        raise InputError(f"{path}: OME metadata is not valid XML: {exc}") from exc
    return MaskFile(path, labels, size, log_text, channel)


def read_mask_pixel_size(path: str | Path) -> PixelSize:
    """A mask's pixel size (µm; time step in s) from its OME (else ImageJ) metadata, without its pixels."""
    try:
        with tifffile.TiffFile(path) as tf:
            xml = tf.ome_metadata or ""
            imagej = PixelSize() if xml else _imagej_size(tf)
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise InputError(f"{path}: cannot read mask: {describe(exc)}") from exc
    try:
        return _ome_log_and_meta(xml)[1] if xml else imagej
    except ET.ParseError as exc:
        raise InputError(f"{path}: OME metadata is not valid XML: {exc}") from exc


def refuse_volume_mask(path: str | Path, what: str) -> None:
    """Raise :class:`InputError` (one line) when ``path`` is a volume mask that ``what`` cannot take yet."""
    try:
        with tifffile.TiffFile(path) as tf:
            series = tf.series[0]
            axes, shape = series.axes, series.shape
    except Exception:  # noqa: BLE001 - unreadable: the caller's own reader says why
        return
    if "Z" in axes and shape[axes.index("Z")] > 1:
        raise InputError(
            f"{path}: a volume mask (TZYX, from --z-mode 3d/stitch): {what} takes 2D (TYX) masks; "
            "volume masks are measured, exported (every kind), evaluated and trained on by their own path"
        )


def _as_tzyx(labels: NDArray[Any], axes: str) -> NDArray[Any]:
    """A mask series with a Z axis as ``(T, Z, Y, X)`` (T added when absent)."""
    if labels.ndim != len(axes) or not axes.endswith("ZYX") or len(axes) > 4 or axes[:-3] not in ("", "T"):
        raise InputError(f"mask axes {axes!r} (shape {labels.shape}) are not TZYX")
    return labels if "T" in axes else labels[None]


def read_embedded_log(path: str | Path) -> str:
    """The log text embedded in an OME-TIFF's comment annotations ('' when none)."""
    try:
        with tifffile.TiffFile(path) as tf:
            xml = tf.ome_metadata
    except Exception:  # noqa: BLE001 - any unreadable file simply has no log
        return ""
    if not xml:
        return ""
    try:
        return _ome_log_and_meta(xml)[0]
    except ET.ParseError:
        return ""
