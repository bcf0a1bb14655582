"""An HDF5 file holding several image datasets: its dataset is chosen per file in the Files tab."""

from __future__ import annotations

import h5py
import pytest
import tifffile

from napari_batchseg.io.masks import read_mask
from test_3d import MODEL


def test_hdf5_dataset_is_chosen_per_file(widget, data_folder, qtbot):
    nuclei = tifffile.imread(data_folder / "nuclei_BF.tif")
    two = data_folder / "two_BF.h5"
    with h5py.File(two, "w") as h5:
        h5["raw"] = nuclei
        h5["crop/small"] = nuclei[:64, :80]
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
    assert [row.combo.itemData(i) for i in range(row.combo.count())] == [None, "/crop/small", "/raw"]
    row.combo.setCurrentIndex(row.combo.findData("/crop/small"))
    assert files.problem(two) == ""
    groups = {tuple(p.name for p in fs): params.dataset
              for fs, params in files.run_groups([two, one], widget.params())}
    assert groups == {("two_BF.h5",): "/crop/small", ("one_BF.h5",): None}
    files.select_file(one)
    files.select_file(two)  # the choice stays with its file
    assert row.combo.currentData() == "/crop/small"


@pytest.mark.cp3
def test_a_run_reads_the_dataset_chosen_for_its_file(widget, tmp_path, data_folder, qtbot):
    nuclei = tifffile.imread(data_folder / "nuclei_BF.tif")
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as h5:
        h5["raw"] = nuclei
        h5["crop/small"] = nuclei[:96, :112]
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
