"""What every export shares: opened inputs, overwrite checks, atomic folders and provenance files."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .._labels import (
    LabelStack,
    PreparedImage,
    SourceSpec,
    check_start_frame,
    mask_base,
    open_mask_stack,
    resolve_source,
)
from ..errors import OutputError
from ..io.atomic import NotPutBack, atomic_write_text, replace_all, staged, staged_prefix
from ..io.masks import refuse_volume_mask
from ..io.sources import PixelSize
from ..provenance import own_records, package_versions

PROVENANCE_SUFFIX = ".provenance.json"


@dataclass
class ExportOptions:
    """Options shared by the export kinds (each kind reads the ones it needs).

    Attributes
    ----------
    overwrite
        Replace existing outputs (otherwise any existing output is an error and nothing is written).
    image, image_channel, z_range, z_projection, start_frame
        Override the input image and its preparation named in the mask's log (needed without a log;
        ``start_frame``, the input frame of the mask's first frame, when a log-less mask has fewer
        frames than its image). With a log and no ``image``, a ``start_frame`` other than the log's
        leaves the mask out (:class:`~napari_batchseg.errors.InputError`): its frames are the log's.
    pattern
        ``outlines``: regex with named groups ``plate``, ``well``, ``site``, searched where
        ``pattern_on`` says; each group takes its value from the first name searched that gives it.
    pattern_on
        ``outlines``: ``"file"`` (default): ``pattern`` is searched in the input image's file name, then
        the mask's file name, never in the position name; ``"position"``: in the position's name (as the
        mask's log records it) first, then those file names (for the scenes of one multi-position file
        whose names are wells: ``P1-B4``).
    outline_format
        ``outlines``: ``"png"`` or ``"tif"``.
    foreground_value
        ``semantic``: value of foreground pixels (1 or 255).
    test_fraction
        ``dacapo``: fraction of frames (of rows, for a single frame) kept apart as a ``test`` crop.
    ngff_version
        ``ome-zarr``: OME-NGFF ``"0.4"`` (Zarr format 2, the most widely read) or ``"0.5"`` (Zarr format 3).
    annotated_frames
        ``dacapo``: mask frames (counted from 0) whose labels are complete (``mask`` = 1); ``None``: all
        of them; ``"corrected"``: those that manual corrections changed (from the mask's log). A mask
        that lacks a frame given, or has no correction for ``"corrected"``, is left out.
    axes, image_axes
        Axes overrides of the masks and of the image (plain multi-page TIFFs: ``"TYX"``).
    force_labels
        Use masks without a log even where they look like intensity images.
    """

    overwrite: bool = False
    image: str | Path | None = None
    image_channel: int | str | None = None
    z_range: str | None = None
    z_projection: str | None = None
    start_frame: int | None = None
    pattern: str | None = None
    pattern_on: str = "file"
    outline_format: str = "png"
    foreground_value: int = 255
    test_fraction: float = 0.0
    annotated_frames: Sequence[int] | str | None = None
    ngff_version: str = "0.4"
    axes: str | None = None
    image_axes: str | None = None
    force_labels: bool = False


_FRAMES_RECORD = re.compile(r"\| frames: (\d+)-(\d+) \((\d+) of (\d+)\)")


def input_frame_count(log_text: str) -> int | None:
    """How many frames the mask's input has, from its log's ``frames: a-b (n of N)`` record."""
    found = _FRAMES_RECORD.findall(own_records(log_text))
    return int(found[0][3]) if found else None


def unknown_preparation() -> dict[str, Any]:
    """The provenance's ``preparation`` of a mask whose input is not known: why, instead of ``null``."""
    return {"from_log": False,
            "not_known": "the mask has no segmentation log and this export read no input image (--image): "
                         "the input's channel, Z slices and position are not known"}


@dataclass
class ExportInput:
    """One mask opened for export, with its image when the kind needs it.

    ``start`` is the input frame of the mask's first frame (from its log, else ``start_frame`` of the
    options, else 0).
    """

    path: Path
    stack: LabelStack
    spec: SourceSpec | None = None
    image: PreparedImage | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    start: int = 0

    @property
    def base(self) -> str:
        """The mask's name without extension (``a_vSM``)."""
        return mask_base(self.path)

    @property
    def input_name(self) -> str | None:
        """File name of the input image, when known."""
        return Path(self.spec.image).name if self.spec is not None else None

    @property
    def position(self) -> int | None:
        """The input's position (field of view, 0-based) the mask's log records; ``None`` without a log."""
        return self.spec.position if self.spec is not None and self.spec.from_log else None

    @property
    def position_name(self) -> str | None:
        """That position's name (a well, a scene: ``P1-B4``) as the log records it; ``None`` if none."""
        return self.spec.position_name if self.spec is not None and self.spec.from_log else None

    def source_record(self) -> dict[str, Any]:
        """What the provenance file says of the input: image, preparation, segmentation parameters."""
        spec = self.spec
        return {
            "source_image": str(spec.image) if spec is not None else None,
            "preparation": unknown_preparation() if spec is None else {
                "channel": spec.channel, "z_range": spec.z_range, "z_projection": spec.z_projection,
                "start_frame": spec.start_frame, "position": spec.position,
                "position_name": spec.position_name, "from_log": spec.from_log,
            },
            "segmentation_parameters": spec.params if spec is not None and spec.from_log else None,
        }

    @property
    def pixel_size(self) -> PixelSize:
        """Pixel size (µm) and time increment (s): the prepared image's view, else the mask's own."""
        return self.image.pixel_size if self.image is not None else self.stack.pixel_size

    @property
    def time_series(self) -> bool:
        """Whether the mask's frames are time points of a movie (several frames, or one of several)."""
        if self.stack.n_frames > 1 or self.start > 0:
            return True
        n_input = self.image.info.sizes["T"] if self.image is not None else input_frame_count(
            self.stack.log_text)
        return (n_input or 1) > 1

    def close(self) -> None:
        """Release the files."""
        if self.image is not None:
            self.image.close()
        self.stack.close()


def open_input(mask: str | Path, options: ExportOptions, need_image: bool) -> ExportInput:
    """Open ``mask`` (and its prepared image when ``need_image``); raise :class:`InputError` if bad."""
    if options.axes is None or "Z" in options.axes.upper():  # --axes TYX reads Z-looking pages as frames
        refuse_volume_mask(mask, "this export")
    stack = open_mask_stack(mask, options.axes, options.force_labels)
    try:
        spec = None
        image = None
        logged = options.image is None and bool(stack.log_text.strip())  # its log's start, not the options'
        if need_image or options.image is not None or stack.log_text.strip():
            try:
                spec = resolve_source(
                    stack, options.image, options.image_channel, options.z_range, options.z_projection,
                    None if logged else options.start_frame, image_axes=options.image_axes,
                )
            except Exception:
                if need_image:
                    raise
            if logged and spec is not None and spec.from_log:
                check_start_frame(Path(mask), spec.start_frame, options.start_frame)
            if need_image and spec is not None:
                image = PreparedImage(stack, spec)
        start = spec.start_frame if spec is not None else int(options.start_frame or 0)
        return ExportInput(Path(mask), stack, spec, image, start=start)
    except BaseException:
        stack.close()
        raise


def check_targets(targets: Sequence[tuple[Path, Path]], overwrite: bool) -> None:
    """Raise :class:`OutputError` listing targets that exist (unless ``overwrite``) or collide.

    ``targets``: ``(output, the mask that writes it)``; a collision names both masks.
    """
    seen: dict[str, Path] = {}
    for t, mask in targets:
        key = os.path.normcase(os.path.abspath(t))
        if key in seen:
            raise OutputError(f"{seen[key]} and {mask} would both write {t} (masks of one name): export "
                              "them to separate folders (--output-dir); nothing was written")
        seen[key] = mask
    existing = [str(t) for t, _ in targets if t.exists()]
    if existing and not overwrite:
        raise OutputError(
            "outputs exist; nothing was written (pass --overwrite (API: overwrite=True) to replace them):\n  "
            + "\n  ".join(existing)
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


class Publication:
    """The outputs of one export, staged under hidden names beside their targets, put in place together.

    :func:`atomic_dir`, :func:`staged_files` and :func:`write_provenance` called inside
    :func:`publication` stage here; :meth:`put_in_place` then renames them all (the provenance file
    last: the mark of a complete export) or none: on a failure the old outputs are back.
    """

    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []  # (staged, target), in the order they are renamed
        self.drops: list[Path] = []
        self._hidden: list[Path] = []

    def hidden_dir(self, folder: Path, name: str) -> Path:
        """A new hidden folder in ``folder`` for output ``name`` (removed by :meth:`discard`).

        Named ``.<name>.partial-new-<pid>-<8 random>`` (:func:`~napari_batchseg.io.atomic.staged_prefix`),
        like the staged provenance file: ``batchseg clean`` removes those of a killed export.
        """
        try:
            tmp = Path(tempfile.mkdtemp(prefix=staged_prefix(folder / name), dir=folder))
        except OSError as exc:
            raise OutputError(f"cannot write in output folder {folder}: {exc.strerror or exc}") from exc
        self._hidden.append(tmp)
        return tmp

    def add(self, staged: Path, target: Path) -> None:
        """Rename ``staged`` onto ``target`` (replacing what is there) when put in place."""
        self._hidden.append(staged)
        self.moves.append((staged, target))

    def add_text(self, target: Path, text: str) -> None:
        """Write ``text`` to a synced hidden file now, renamed onto ``target`` when put in place."""
        with staged() as stage:
            atomic_write_text(target, text, staged_prefix(target))
        self.add(stage.files.pop(target), target)

    def drop(self, path: Path) -> None:
        """Remove ``path`` (an earlier output this export does not write) when the others are in place."""
        self.drops.append(path)

    def put_in_place(self) -> None:
        """Rename every staged output onto its target, signals held; remove the dropped files.

        :func:`~napari_batchseg.io.atomic.replace_all`: what was at a target (and each dropped file) is
        kept under a hidden name (a hard link for a file, where the file system has them) until all are
        in place. A folder where a file goes (or a file where a folder goes) is refused before anything
        moves. On any failure or interruption the old outputs are back: :class:`OutputError` names the
        file and the problem.
        """
        for src, target in self.moves:
            if target.is_dir() != src.is_dir() and target.exists():
                what = ("a folder, not a file", "a file, not a folder")[src.is_dir()]
                raise OutputError(f"cannot replace {target}: it is {what} (move it away); "
                                  "nothing was changed")
        try:
            replace_all(self.moves, self.drops)
        except NotPutBack:
            raise
        except OutputError as exc:
            raise OutputError(f"{exc} (nothing of this export was kept)") from exc

    def discard(self) -> None:
        """Remove the staged outputs not put in place, and the hidden folders."""
        for path in reversed(self._hidden):
            _remove(path)
        self._hidden.clear()


_local = threading.local()


@contextlib.contextmanager
def publication() -> Iterator[Publication]:
    """Inside (this thread), exports stage their outputs in the yielded :class:`Publication`.

    :func:`atomic_dir`, :func:`staged_files` and :func:`write_provenance` do not put anything in place:
    the caller does, with :meth:`Publication.put_in_place`. What is staged and not put in place (an
    exception, a stop) is removed on leaving.
    """
    previous = getattr(_local, "publication", None)
    pub = Publication()
    _local.publication = pub
    try:
        yield pub
    finally:
        _local.publication = previous
        pub.discard()


@contextlib.contextmanager
def _staging() -> Iterator[Publication]:
    """The current :func:`publication`, else a new one, put in place on success."""
    current: Publication | None = getattr(_local, "publication", None)
    if current is not None:
        yield current
        return
    pub = Publication()
    try:
        yield pub
        pub.put_in_place()
    finally:
        pub.discard()


@contextlib.contextmanager
def atomic_dir(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``target`` (or a temporary file path when ``suffix``).

    On success it replaces ``target`` (:meth:`Publication.put_in_place`: an existing one is kept aside
    until the new one is in place, put back on a failure); inside :func:`publication` it is only staged.
    On any exception the temporary is removed and ``target`` is left as it was.
    """
    with _staging() as pub:
        tmp = pub.hidden_dir(target.parent, target.name)
        item = tmp / f"item{suffix}" if suffix else tmp
        yield item
        pub.add(item, target)


@contextlib.contextmanager
def staged_files(folder: Path, prefix: str) -> Iterator[tuple[Path, list[Path]]]:
    """Yield ``(hidden folder, written)``: files made in the hidden folder move into ``folder`` at the end.

    ``written`` lists their targets. They are put in place together (:meth:`Publication.put_in_place`):
    all, replacing older files of those names, or none, the older ones kept. A signal that a handler
    defers (:func:`~napari_batchseg.io.atomic.signals_held`: ``batchseg``'s Ctrl-C) waits until all
    are moved. Inside :func:`publication` they are only staged there.
    """
    with _staging() as pub:
        tmp = pub.hidden_dir(folder, prefix)
        written: list[Path] = []
        yield tmp, written
        for p in sorted(tmp.iterdir()):
            pub.add(p, folder / p.name)
            written.append(folder / p.name)


def provenance_path(target: Path) -> Path:
    """``<target>.provenance.json`` beside the export."""
    return target.with_name(target.name + PROVENANCE_SUFFIX)


class Exported(Protocol):
    """What a provenance file is written from: a 2D mask's :class:`ExportInput` or a volume mask's item."""

    path: Path
    start: int

    @property
    def pixel_size(self) -> PixelSize:
        """Pixel size (µm) and time increment (s)."""

    def source_record(self) -> dict[str, Any]:
        """``source_image``, ``preparation`` and ``segmentation_parameters`` of the record."""


def write_provenance(target: Path, kind: str, item: Exported, options: ExportOptions,
                     outputs: Sequence[Path] = ()) -> Path:
    """Write the JSON record of an export (source mask, its log's parameters, versions) beside it.

    Inside :func:`publication` it is staged there, to be put in place after the export's files.
    """
    record: dict[str, Any] = {
        "tool": "napari-batchseg export",
        "kind": kind,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "output": str(target.resolve()),  # (as given, a relative folder named the exporter's working folder)
        "files": [str(p.resolve()) for p in outputs],
        "source_mask": str(item.path.resolve()),
        **item.source_record(),
        "pixel_size_um": {k: v for k, v in item.pixel_size.as_dict().items() if k != "t"},
        "time_increment_s": item.pixel_size.t,
        "first_frame": item.start,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()},
        "versions": package_versions(),
    }
    if isinstance(record["options"].get("annotated_frames"), (tuple, range)):
        record["options"]["annotated_frames"] = list(record["options"]["annotated_frames"])
    path = provenance_path(target)
    text = json.dumps(record, indent=2, default=str) + "\n"
    current: Publication | None = getattr(_local, "publication", None)
    if current is not None:  # put in place last, with the export's files
        current.add_text(path, text)
    else:
        atomic_write_text(path, text, staged_prefix(path))
    return path
