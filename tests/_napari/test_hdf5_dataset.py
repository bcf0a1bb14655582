"""An HDF5 file holding several image datasets: its dataset is chosen per file in the Files tab."""

from __future__ import annotations

import h5py
import pytest
import tifffile

from napari_batchseg.io.masks import read_mask
from test_3d import MODEL


def _two_datasets(path, nuclei, small=(64, 80)):
    """An HDF5 file holding two image datasets: ``/raw`` and a crop ``/crop/small``."""
    with h5py.File(path, "w") as h5:
        h5["raw"] = nuclei
        h5["crop/small"] = nuclei[:small[0], :small[1]]
    return path


def test_hdf5_dataset_is_chosen_per_file(widget, data_folder, qtbot):
    nuclei = tifffile.imread(data_folder / "nuclei_BF.tif")
    two = _two_datasets(data_folder / "two_BF.h5", nuclei)
    one = data_folder / "one_BF.h5"
    with h5py.File(one, "w") as h5:
        h5["raw"] = nuclei
    files, row = widget.files, widget.files.dataset_row
    files.add_paths([two, one])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    two, one = two.resolve(), one.resolve()
    assert files.problem(two) == "several image datasets: select it and choose one below"
    assert files.problem(one) == ""
    files.select_file(one)
    assert not row.isVisibleTo(widget)
    files.select_file(two)
    assert row.isVisibleTo(files)
    # a walk: the info said "say which with the dataset option, e.g. dataset='…' (CLI: --dataset …)"
    assert "choose one in its Dataset box" in files.info.text() and "--dataset" not in files.info.text()
    assert [row.combo.itemData(i) for i in range(row.combo.count())] == [None, "/crop/small", "/raw"]
    row.combo.setCurrentIndex(row.combo.findData("/crop/small"))
    assert files.problem(two) == ""
    groups = {tuple(p.name for p in fs): params.dataset
              for fs, params in files.setup.run_groups([two, one], widget.params())}
    assert groups == {("two_BF.h5",): "/crop/small", ("one_BF.h5",): None}
    files.select_file(one)
    files.select_file(two)  # the choice stays with its file
    assert row.combo.currentData() == "/crop/small"


@pytest.mark.cp3
def test_a_run_reads_the_dataset_chosen_for_its_file(widget, tmp_path, data_folder, qtbot):
    nuclei = tifffile.imread(data_folder / "nuclei_BF.tif")
    path = _two_datasets(tmp_path / "two.h5", nuclei, (96, 112))
    files, form = widget.files, widget.form
    files.add_paths([path])
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    files.select_file(path.resolve())
    files.dataset_row.combo.setCurrentIndex(files.dataset_row.combo.findData("/crop/small"))
    form.model.setCurrentText("User trained model…")
    form.model_path.setText(str(MODEL))
    form.diameter.setValue(30)
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=300000)
    key = widget.status.keys()[0]
    assert widget.status.status(key) == "done", widget.message.text()
    mask = read_mask(tmp_path / "two_vSM.ome.tif")
    assert mask.labels.shape == (1, 96, 112) and mask.labels.max() > 0
    assert "/crop/small" in mask.log_text


def test_dataset_names_come_from_the_metadata_worker(widget, data_folder, qtbot, monkeypatch):
    """The GUI thread never opens the HDF5 file for its Dataset row: the names arrive with its metadata."""
    import threading

    from napari_batchseg.view import file_info

    nuclei = tifffile.imread(data_folder / "nuclei_BF.tif")
    two = _two_datasets(data_folder / "two_BF.h5", nuclei)
    threads = []
    real = file_info.image_dataset_names

    def recorded(path):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(path)

    monkeypatch.setattr(file_info, "image_dataset_names", recorded)
    files, row = widget.files, widget.files.dataset_row
    files.add_paths([two])
    two = two.resolve()
    files.select_file(two)  # before its metadata is known: no row, and nothing read here
    assert not row.isVisibleTo(files) and widget.infos.datasets(two) == ()
    qtbot.waitUntil(lambda: not widget.infos.busy, timeout=20000)
    qtbot.waitUntil(lambda: row.isVisibleTo(files), timeout=5000)  # shown when the worker's answer came
    assert widget.infos.datasets(two) == ("/crop/small", "/raw")
    assert [row.combo.itemData(i) for i in range(row.combo.count())] == [None, "/crop/small", "/raw"]
    files.select_file(two)
    files.update_marks()
    assert files.problem(two) == "several image datasets: select it and choose one below"
    assert threads and not any(threads), threads  # read once per file, never on the GUI thread
