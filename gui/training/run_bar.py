"""The live run in the Train workspace, at the right end of the model strip's row: its progress,
its speed or message, and the settings that apply to a live run (learning rate, gradient clip,
probe sample), so the views can have the whole width below without the training panel's column.

The bar shows what the training panel shows and edits the panel's own fields: each field here
is a copy kept equal to the panel's in both directions, so a value typed here is the panel's
edit (sent to the live run the same way) and a schedule's learning rate shows in both. The
whole form (optimiser, batch size, epochs, device) is the panel's, a click away ("Settings")
and in the Build workspace; it is fixed while a run is live anyway."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.training.panel import TrainingPanel
from gui.training.views.base import ElidedLabel

# At least as wide as the three fields with their names; the model strip has the rest of the
# row, up to its chips' width (the digits CNN's 11 chips fit beside it at 1280×800), and the bar
# whatever is left after them.
BAR_WIDTH = 400
BAR_MAX = 640  # on a wide screen, a progress bar no longer than the views' half below it
FIELD_EXTRA = 32  # a spin box's frame and arrows beside its text


class RunBar(QWidget):
    """Three rows beside the model strip: a slim progress bar (epoch and step); the run's
    speed, or when it is not running its message (paused, finished, an error in red); the live
    fields and "Settings", which shows the training panel. The size hint is the bar's minimum,
    so where the row is short the strip gives way first (it scrolls), and the bar takes what
    a wide row has left."""

    def __init__(self, panel: TrainingPanel, panel_action: QAction, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("runBar")
        self.panel = panel
        self.progress = QProgressBar()
        self.progress.setObjectName("runBarProgress")
        self.progress.setTextVisible(True)
        # A line of text high, not a button's height: the three rows fit the strip's height.
        self.progress.setFixedHeight(self.progress.fontMetrics().height() + 2)
        self.message = ElidedLabel()
        self.message.setObjectName("runBarMessage")

        self.lr_spin = _copy_of(panel.lr_spin, QDoubleSpinBox())
        self.clip_spin = _copy_of(panel.clip_spin, QDoubleSpinBox())
        self.sample_spin = _copy_of(panel.sample_spin, QSpinBox())
        self.panel_button = QToolButton()
        self.panel_button.setDefaultAction(panel_action)
        self.panel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bottom = QHBoxLayout()
        bottom.setSpacing(4)
        # Each field as wide as a usual value ("0.003000", "10.000", "1500") and its arrows: the
        # spin boxes' own hints allow for 1000.000000 and made the bar crowd the strip.
        for name, spin, usual in (("lr", self.lr_spin, "0.000000"), ("clip", self.clip_spin,
                                  "00.000"), ("sample", self.sample_spin, "00000")):  # fmt: skip
            label = QLabel(name)
            label.setToolTip(spin.toolTip())
            label.setBuddy(spin)
            bottom.addWidget(label)
            spin.setMinimumWidth(spin.fontMetrics().horizontalAdvance(usual) + FIELD_EXTRA)
            bottom.addWidget(spin)
        bottom.addStretch(1)
        bottom.addWidget(self.panel_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 1, 4, 1)
        layout.setSpacing(1)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(bottom)
        self.setMinimumWidth(max(BAR_WIDTH, layout.minimumSize().width()))
        self.setMaximumWidth(max(BAR_MAX, self.minimumWidth()))
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        panel.display_changed.connect(self.refresh)
        panel.controls_changed.connect(self.refresh)
        self.refresh()

    def sizeHint(self):  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        hint.setWidth(self.minimumWidth())
        return hint

    def refresh(self) -> None:
        """Show the panel's progress, and its speed while running, else its message."""
        source = self.panel.progress
        self.progress.setRange(source.minimum(), source.maximum())
        self.progress.setValue(source.value())
        self.progress.setFormat(source.format())
        error = self.panel.shows_error
        running = self.panel.state == "running" and self.panel.speed and not error
        text = self.panel.speed if running else self.panel.message
        if text != self.message.text():
            self.message.setText(text)
        if bool(self.message.property("error")) != error:
            self.message.setStyleSheet("color: #b2182b; font-weight: bold;" if error else "")
            self.message.setProperty("error", error)


def _copy_of(source: QAbstractSpinBox, copy: QAbstractSpinBox) -> QAbstractSpinBox:
    """``copy`` set up as ``source`` is (range, decimals, "off", tooltip) and kept equal to it:
    a value entered in the copy is set on the source, which does what an edit there does; a
    value the source shows (a schedule's, a project's, a clicked sample) shows in the copy,
    unless the user is typing in it."""
    copy.setRange(source.minimum(), source.maximum())
    if isinstance(source, QDoubleSpinBox):
        copy.setDecimals(source.decimals())
    copy.setStepType(source.stepType())
    copy.setSpecialValueText(source.specialValueText())
    copy.setToolTip(source.toolTip())
    copy.setAccessibleName(source.accessibleName())
    copy.setKeyboardTracking(False)  # one edit when Enter is pressed, as in the panel
    copy.setValue(source.value())

    def to_source(value) -> None:
        if source.value() != value:
            source.setValue(value)

    def from_source(value) -> None:
        if copy.value() != value and not copy.hasFocus():
            copy.blockSignals(True)
            copy.setValue(value)
            copy.blockSignals(False)

    copy.valueChanged.connect(to_source)
    source.valueChanged.connect(from_source)
    return copy
