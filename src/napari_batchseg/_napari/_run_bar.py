"""The run bar under the dock's tabs: Run, Cancel, the progress bar and the message line."""

from __future__ import annotations

from qtpy.QtWidgets import QLabel, QPushButton, QWidget

from ._qtutil import hbox, muted, vbox

ERROR_STYLE = "color: #e06c4c; font-size: 11px;"


class RunBar(QWidget):
    """Run and Cancel beside ``progress``, and the message line below (:meth:`say`)."""

    def __init__(self, progress: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_btn = QPushButton("Run")
        self.run_btn.setToolTip("Segment every listed file that passes the filters")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.setToolTip("Stop now (within the current frame); finished files stay, the current "
                                   "one is dropped")
        self.message = muted(QLabel(""))
        #: what the next Run will do that a user tuning settings must know (seen from every tab)
        self.next_run = muted(QLabel(""))
        self.next_run.setVisible(False)
        self._refusal = False  # the message says why Run did not start
        vbox(hbox(self.run_btn, self.cancel_btn, progress, stretch_last=True), self.message, self.next_run,
             into=self)

    def say(self, text: str, error: bool = False) -> None:
        """Show ``text`` in the message line (in red for an error)."""
        self._refusal = False
        self.message.setStyleSheet(ERROR_STYLE if error else "font-size: 11px;")
        self.message.setText(text)

    def refuse(self, text: str) -> None:
        """Say why Run did not start (in red) until the files or settings change (:meth:`changed`)."""
        self.say(text, error=True)
        self._refusal = True

    def changed(self) -> None:
        """The files or settings changed: a refusal no longer holds (Run says it again if it does)."""
        if self._refusal:
            self.say("")

    def note(self, text: str) -> None:
        """What the next Run does with outputs made with other parameters or corrected (``""``: none)."""
        self.next_run.setText(f"Next Run: {text}" if text else "")
        self.next_run.setVisible(bool(text))
