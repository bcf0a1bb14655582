"""The input file list: add files and folders (or drop them), filters, metadata read off the GUI thread."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import cast

from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from ..io.sources import SourceInfo
from ..view.file_info import InfoStore, info_panel_text, is_ambiguous, read_file_info, read_info_safe
from ..view.file_list import FileSetup, count_text, find_inputs_split, new_inputs
from ._file_controls import AxesRow, DatasetRow, FileSettings, FilterFields, ListButtons
from ._jobs import Background
from ._qtutil import PathDrops, hbox, muted, single_shot, vbox

PATH_ROLE = Qt.ItemDataRole.UserRole
PROBLEM_COLOR = "#e06c4c"


class InfoCache(QObject):
    """Reads metadata of files in a worker thread; emits ``updated`` as each file is known."""

    updated = Signal(object)  # Path

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = InfoStore()  # what is known and what is being read (Qt-free)
        self.get, self.datasets, self.infos = self.store.get, self.store.datasets, self.store.readable
        self.background = Background(self)

    def request(self, paths: Iterable[str | Path]) -> None:
        """Read, in a worker thread, the metadata of the paths not known yet."""
        if todo := self.store.todo(paths):
            self.background.submit(lambda: (read_file_info(p) for p in todo), name="batchseg-metadata",
                                   on_item=lambda info: self.updated.emit(self.store.take(info)))

    def with_axes(self, path: str | Path, axes: str | None) -> SourceInfo | str | None:
        """Metadata of ``path`` read with ``axes`` (none: :meth:`get`); ``None`` while a worker reads it."""
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


class FileListPanel(PathDrops, QWidget):
    """List of input files with filters; emits ``files_changed`` and ``current_changed``.

    Every file added stays listed; the filters decide, live, which files found in folders take part
    (the others are hidden, and counted); files named one by one are always taken, as on the command
    line. What each file runs with and why one cannot run is decided by :attr:`setup` (Qt-free).
    """

    files_changed = Signal()
    current_changed = Signal(object)  # Path | None
    #: the user made a file current: emitted before ``current_changed`` (not when its metadata arrives)
    picked = Signal(object)  # Path | None

    def __init__(self, infos: InfoCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.infos = infos
        self.background = Background(self)
        self.setAcceptDrops(True)

        self.list = QListWidget(self)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setToolTip("Drop files or folders here")
        self.list.setMinimumHeight(90)
        self.list.setMaximumHeight(150)
        # as the status table: names elided in the middle (the tooltip has the path), no sideways scrolling;
        # one item size (measuring each of 2,000 files' took 250 ms of the GUI thread)
        self.list.setUniformItemSizes(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setAcceptDrops(False)  # the panel handles drops

        self.buttons = ListButtons()
        self.recursive = self.buttons.recursive

        self.filters = FilterFields(self)
        self.contains, self.not_contains, self.extensions = self.filters.edits
        self.filters_box = self.filters.box

        #: per-file choices (axes, dataset, channel, frames) and what the Settings tab asks of every file
        self.setup = FileSetup()
        self.axes_row = AxesRow(self.setup, lambda p: is_ambiguous(infos.get(p)), self.current_file)
        self.axes, self.axes_label = self.axes_row.combo, self.axes_row.label
        self.dataset_row = DatasetRow(self.setup, infos.datasets, self.current_file)
        #: files named one by one (Add file…, dropped, ``add_paths`` with a file): the filters never hide them
        self.explicit: set[Path] = set()
        #: why files named one by one in the last add were not taken (said in the count line)
        self.refused: list[str] = []
        self.running = False  # a run is going (the count line says that edits apply to the next run)
        #: the run's inputs as the last :meth:`apply_filters` found them (:meth:`files`: no filter re-run)
        self._passing: list[Path] = []
        #: why each listed file cannot run (:meth:`update_marks`); the files whose metadata came since
        self._why, self._new_info = dict[Path, str](), set[Path]()
        self._marks_timer = single_shot(self, 100, self._mark_new_info)
        self.count = QLabel("no files")
        self.count.setWordWrap(True)  # "… nothing to run; change the Filters above" fits a narrow dock
        self.info = muted(QLabel(""))
        self.file_settings = FileSettings(self.setup, self)
        self.remove_marked_btn = QPushButton("Remove the files marked ⚠")
        self.remove_marked_btn.setToolTip("Take the files that cannot run as set up out of the list")
        self.remove_marked_btn.setVisible(False)

        vbox(self.buttons, self.filters_box, self.list, self.axes_row, self.dataset_row, self.count,
             hbox(self.remove_marked_btn, 1), self.info, self.file_settings, into=self)

        self.buttons.chosen.connect(self.add_paths_later)
        self.buttons.remove_btn.clicked.connect(self.remove_selected)
        self.buttons.clear_btn.clicked.connect(self.clear)
        self.remove_marked_btn.clicked.connect(self.remove_marked)
        for choices in (self.file_settings, self.axes_row, self.dataset_row):
            choices.changed.connect(self._file_choice_changed)
        for edit in self.filters.edits:
            edit.textChanged.connect(self.apply_filters)
        self.list.currentItemChanged.connect(self._on_current)
        self.infos.updated.connect(self._on_info)

    def all_files(self) -> list[Path]:
        """Every listed file, filtered out or not."""
        return [_path_of(item) for item in self._items()]

    def _items(self) -> list[QListWidgetItem]:
        items = (self.list.item(i) for i in range(self.list.count()))
        return [item for item in items if item is not None]

    def files(self) -> list[Path]:
        """The run's inputs, in list order: named one by one, or passing the filters (as last applied)."""
        return list(self._passing)

    def add_paths(self, paths: Iterable[str | Path], recursive: bool | None = None) -> int:
        """Add files and folders' supported files on this thread (scripts, tests); how many were new."""
        rec = self.recursive.isChecked() if recursive is None else recursive
        return self._add_found(find_inputs_split(list(paths), rec))

    def add_paths_later(self, paths: Iterable[str | Path], recursive: bool | None = None) -> None:
        """:meth:`add_paths`, but folders are searched in a thread; the files appear when found."""
        rec = self.recursive.isChecked() if recursive is None else recursive
        self.count.setText("looking for files…")
        self.background.submit(find_inputs_split, list(paths), rec, on_item=self._add_found,
                               name="batchseg-glob", on_done=self.show_count)

    _dropped = add_paths_later  # (:class:`PathDrops`) dropped files and folders

    @property
    def busy(self) -> bool:
        """Whether folders are still being searched."""
        return self.background.busy

    def close_down(self) -> None:
        """Deliver nothing more (the widget is closing)."""
        self.background.close()

    def _add_found(self, found: tuple[list[Path], list[Path], list[str]]) -> int:
        """Add ``(files found in folders, files named one by one, why others were not)``; count the new."""
        in_folders, named, refused = found
        self.refused = refused
        more_explicit = set(named) - self.explicit
        self.explicit.update(named)
        new = new_inputs(self.all_files(), [*in_folders, *named])
        for f in new:
            item = QListWidgetItem(f.name)
            item.setData(PATH_ROLE, f)
            item.setToolTip(str(f))
            self.list.addItem(item)
        if new or more_explicit or refused:
            self.apply_filters()
        if new:
            self.infos.request(new)
            if known := {f for f in new if self.infos.get(f) is not None}:  # listed before: no metadata event
                self.update_marks(known)
        return len(new)

    def remove_selected(self) -> None:
        """Remove the selected files from the list."""
        if selected := {_path_of(item) for item in self.list.selectedItems()}:
            self._remove(selected)

    def clear(self) -> None:
        """Empty the list."""
        self.list.clear()
        self.explicit.clear()
        self.refused = []
        self.setup.forget()
        self.apply_filters()

    def remove_marked(self) -> None:
        """Remove the files that cannot run as set up (marked ⚠) from the list."""
        self._remove(set(self.problems()))
        self.update_marks()

    def _remove(self, paths: set[Path]) -> None:  # with their choices
        for r in reversed(range(self.list.count())):
            item = self.list.item(r)
            if item is not None and _path_of(item) in paths:
                self.list.takeItem(r)
        self.explicit -= paths
        self.setup.forget(list(paths))
        self.apply_filters()

    def apply_filters(self) -> None:
        """Hide the folder files the filters reject; update the count (and say why none can run)."""
        flt = self.filters.file_filter()
        self._passing = []
        for item in self._items():
            path = _path_of(item)
            ok = path in self.explicit or flt.accepts(path)  # named one by one, or passing the filters
            if item.isHidden() == ok:
                item.setHidden(not ok)
            if ok:
                self._passing.append(path)
        if self.list.count() and not self._passing:  # nothing can run: show the filters that hide everything
            self.filters_box.expand(animate=False)
        self.show_count()
        self._offer_removal()
        self.files_changed.emit()

    def _offer_removal(self) -> None:  # while a file taking part in the run cannot run
        self.remove_marked_btn.setVisible(any(self._why.get(p) for p in self._passing))

    def show_count(self, running: bool | None = None) -> None:  # (running: the dock's run; None: as it was)
        self.running = self.running if running is None else running
        self.count.setText(count_text(len(self._passing), self.list.count(), self.refused, self.running))

    def current_file(self) -> Path | None:
        """The selected (current) file, if visible."""
        item = self.list.currentItem()
        return None if item is None or item.isHidden() else _path_of(item)

    def select_file(self, path: Path) -> None:
        """Make ``path`` the current file."""
        self.list.setCurrentRow(next((i for i, it in enumerate(self._items()) if _path_of(it) == Path(path)),
                                     self.list.currentRow()))  # (not listed: the current row stays)

    def _on_current(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None = None) -> None:
        path = _path_of(item) if item is not None else None
        self.picked.emit(path)
        self.axes_row.sync()
        self._show_current(path)

    def _show_current(self, path: Path | None) -> None:
        self._show_info(path)
        self.dataset_row.sync()  # (its datasets come with its metadata)
        self.file_settings.show_file(path, self.infos.get(path) if path is not None else None)
        self.current_changed.emit(path)

    def set_axes_choice(self, axes: str | None) -> None:
        """Use ``axes`` (e.g. from a YAML) for the ambiguous files that have no axes of their own."""
        self.setup.default_axes = axes or None
        self.update_marks()

    def set_positions(self, positions: list[int | str] | None) -> None:
        """Run ``positions`` (a parameter file's) of every file without its own (shown in *This file*)."""
        self.setup.positions = positions
        path = self.current_file()  # (its panel only: the Settings tab is not filled again)
        self.file_settings.show_file(path, self.infos.get(path) if path is not None else None)

    def run_info(self, path: Path | None) -> SourceInfo | None:
        """Readable metadata of a file as it will run (an ambiguous one: with its axes), else ``None``."""
        info, axes = (self.infos.get(path), self.setup.axes_for(path)) if path is not None else (None, None)
        if isinstance(info, str) and axes and path is not None:
            info = self.infos.with_axes(path, axes)
        return info if isinstance(info, SourceInfo) else None

    def ask(self, channel: object, start_frame: int, z_mode: str) -> None:
        """What the form asks of every file (see :meth:`FileSetup.ask`): files lacking it are flagged."""
        if self.setup.ask(channel, start_frame, z_mode):
            self.update_marks()

    def problem(self, path: Path) -> str:
        """Why ``path`` cannot run as set up ("" when it can, or while its metadata is unknown)."""
        return self.setup.problem(path, self.infos.get(path), len(self.infos.datasets(path)))

    def update_marks(self, only: set[Path] | None = None) -> None:
        """Mark, in the list, files that cannot run as set up (:meth:`problem`), or read with chosen axes.

        ``only``: just these files changed (their metadata came); the others keep their marks (a long
        list is not checked again per file read).
        """
        listed = self._items()
        if only is None:
            self._why = {}
        for item in listed:
            path = _path_of(item)
            if only is not None and path not in only:
                continue
            info = self.infos.get(path)
            why = self._why[path] = self.problem(path)
            text = self.setup.mark(path, info, why)
            if item.text() != text:
                item.setText(text)
                item.setForeground(QBrush(QColor(PROBLEM_COLOR)) if why else QBrush())
            item.setToolTip(f"{path}\n{why}" if why else str(path))
        ambiguous = any(is_ambiguous(self.infos.get(_path_of(item))) for item in listed)
        self.axes_row.setVisible(ambiguous or self.setup.default_axes is not None)
        self.axes_row.sync()
        self._offer_removal()
        self._show_info(self.current_file())  # its reason, whole, follows the settings

    def _file_choice_changed(self, *_: object) -> None:
        self.update_marks()
        self.files_changed.emit()

    def problems(self) -> dict[Path, str]:
        """The files that pass the filters but cannot run as set up, with the reason."""
        return {p: why for p in self.files() if (why := self.problem(p))}

    def _mark_new_info(self) -> None:
        new, self._new_info = self._new_info, set()
        self.update_marks(new)

    def _on_info(self, path: Path) -> None:
        self._new_info.add(path)
        self._marks_timer.start()
        if path == self.current_file():
            self._show_current(path)

    def _show_info(self, path: Path | None) -> None:
        info = self.infos.get(path) if path is not None else None
        self.info.setText(info_panel_text(path, info, self.problem(path)) if path is not None else "")
        if path is not None and info is None:
            self.infos.request([path])


def _path_of(item: QListWidgetItem) -> Path:
    return cast(Path, item.data(PATH_ROLE))
