"""The Train dock's Cancel is pressed once: it turns off and says so until the training ends.

GUI trial 45: Cancel stayed enabled after a click (the training goes on to the end of its epoch), and the
next epoch's progress line replaced "cancelling…": nothing showed that the click was taken.
"""

from __future__ import annotations

import pytest

from napari_batchseg.segmenters.catalog import cellpose_major

from .test_train_widget import _private_registry, train_widget  # noqa: F401  (fixtures)


@pytest.mark.skipif(cellpose_major() != 3, reason="training uses Cellpose 3's train_seg")
def test_cancel_turns_off_until_the_training_ends(train_widget, qtbot, tmp_path):  # noqa: F811
    w = train_widget
    w.epochs.setValue(200)
    w.output.setText(str(tmp_path / "model"))
    w.start()
    qtbot.waitUntil(lambda: "epoch 1/" in w.status.text(), timeout=120000)
    assert w.cancel_button.isEnabled() and w.cancel_button.text() == "Cancel"
    w.cancel_button.click()
    assert w.running  # (the training ends its epoch first)
    assert not w.cancel_button.isEnabled() and w.cancel_button.text() == "Cancelling…"
    assert not w.start_button.isEnabled()
    seen: list[tuple[bool, str]] = []
    qtbot.waitUntil(lambda: seen.append((w.cancel_button.isEnabled(), w.status.text())) or not w.running,
                    timeout=300000)
    assert not any(enabled for enabled, _ in seen[:-1])
    assert all("cancelling" in text for _, text in seen[:-1]), seen
    assert w.cancelled and w.status.text().startswith("training cancelled"), w.status.text()
    # ended: Train again, Cancel off until the next training
    assert w.start_button.isEnabled() and not w.cancel_button.isEnabled()
    assert w.cancel_button.text() == "Cancel"
    assert not list(tmp_path.glob("model*"))
