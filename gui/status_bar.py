"""A status bar whose passing messages keep to their own space, left of the permanent labels.

QStatusBar draws a long temporary message under its permanent widgets; here the message is a
label that stretches only over the free space and is elided there, whole in its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget


class ElidedLabel(QLabel):
    """One line of text cut to the label's width with an ellipsis; the whole text is its tooltip."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.full_text = ""
        # Ignored: a long text never widens the label into its neighbours' space.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        self.setText(
            self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, width)
        )


class MessageStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.message_label = ElidedLabel()
        self.message_label.setObjectName("statusMessage")
        self.addWidget(self.message_label, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clearMessage)

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - Qt's name
        self.message_label.set_full_text(text)
        if timeout > 0:
            self._timer.start(timeout)
        else:
            self._timer.stop()

    def clearMessage(self) -> None:  # noqa: N802 - Qt's name
        self.showMessage("")

    def currentMessage(self) -> str:  # noqa: N802 - Qt's name
        return self.message_label.full_text
