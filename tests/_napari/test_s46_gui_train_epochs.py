"""Session 46: the Train dock says that a few epochs change little (Cellpose's learning-rate warm-up)."""

from __future__ import annotations

import inspect

from napari_batchseg.view import training_form


def test_warmup_epochs_are_cellposes():
    """The note's number is train_seg's: its schedule starts ``np.linspace(0, learning_rate, 10)``."""
    from cellpose import train

    source = inspect.getsource(train.train_seg)
    assert f"np.linspace(0, learning_rate, {training_form.WARMUP_EPOCHS})" in source


def test_few_epochs_are_said_to_change_little(make_napari_viewer, qtbot):
    """A new-user trial: 2 epochs of training left the model as it was, and the dock said nothing
    (Cellpose's warm-up trains the first epoch at learning rate 0)."""
    from napari_batchseg._napari._train_widget import TrainWidget

    w = TrainWidget(make_napari_viewer())
    assert w.status.text() == ""
    w.epochs.setValue(2)
    text = w.status.text()
    assert "learning rate 0" in text and "11%" in text and "take 10 or more" in text, text
    w.epochs.setValue(1)
    assert "1 epoch changes nothing" in w.status.text(), w.status.text()
    w.epochs.setValue(10)  # enough: the note goes
    assert w.status.text() == ""
    assert "first epoch changes nothing" in w.epochs.toolTip()


def test_the_note_leaves_other_status_lines_alone(make_napari_viewer):
    from napari_batchseg._napari._train_widget import TrainWidget

    w = TrainWidget(make_napari_viewer())
    w.status.setText("saved /tmp/model")
    w.epochs.setValue(50)
    assert w.status.text() == "saved /tmp/model"
    note = training_form.epochs_note(9, "saved /tmp/model")
    assert note.endswith("89% of the rate set, and change little; take 10 or more."), note
