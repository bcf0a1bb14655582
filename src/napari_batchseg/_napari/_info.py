"""Metadata of the listed files, read off the GUI thread (no pixels) and cached.

Per file (:func:`~napari_batchseg.view.file_info.read_file_info`): its metadata, or why it cannot be read,
and, for HDF5, the names of its image datasets; the GUI thread does no disk I/O for the Files tab.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qtpy.QtCore import QObject, Signal

from ..io.sources import SourceInfo
from ..view.file_info import InfoStore, read_file_info, read_info_safe
from ._jobs import Background


class InfoCache(QObject):
    """Reads metadata of files in a worker thread; emits ``updated`` as each file is known."""

    updated = Signal(object)  # Path

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        #: what is known and what is being read (Qt-free)
        self.store = InfoStore()
        #: known metadata, HDF5 datasets, readable metadata of paths: the store's (see :class:`InfoStore`)
        self.get, self.datasets, self.infos = self.store.get, self.store.datasets, self.store.readable
        #: the metadata is read by daemon threads (a thread never touches Qt; see :mod:`._jobs`)
        self.background = Background(self)

    def request(self, paths: Iterable[str | Path]) -> None:
        """Read, in a worker thread, the metadata of the paths not known yet."""
        todo = self.store.todo(paths)
        if todo:
            self.background.submit(lambda: (read_file_info(p) for p in todo), name="batchseg-metadata",
                                   on_item=lambda info: self.updated.emit(self.store.take(info)))

    def with_axes(self, path: str | Path, axes: str | None) -> SourceInfo | str | None:
        """Metadata of ``path`` as it will be read with ``axes`` (an ambiguous file given its axes).

        Without ``axes``, the file's own (:meth:`get`). Unknown yet: ``None``, and a worker reads it.
        """
        path = Path(path)
        if not axes:
            return self.get(path)
        key = (path, axes)
        if key in self.store.with_axes:
            return self.store.with_axes[key]
        if self.store.axes_todo(key):
            self.background.submit(read_info_safe, path, axes, name="batchseg-metadata",
                                   on_item=lambda info: self.updated.emit(self.store.take_axes((key, info))))
        return None

    @property
    def busy(self) -> bool:
        """Whether a worker is still reading."""
        return self.background.busy

    def close(self) -> None:
        """Deliver nothing more (the widget is closing)."""
        self.background.close()
