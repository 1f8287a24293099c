"""One widget per Param, for the inspector (block parameters) and the Dataset panel (loader
options): a spin box bounded by the range, a check box, a combo box of the choices, a text field.

A Param with a ``none_label`` may be left "not given" (None): a spin box shows the label one
step below its minimum, a combo box offers it as its first entry, a text field as placeholder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from engine.model.params import Param

_INT_LIMIT = 2_147_483_647


def editor_for(param: Param) -> QWidget:
    """A widget that can only hold values ``param`` accepts."""
    if param.kind in ("int", "float"):
        widget = _spin(param)
    elif param.kind == "bool":
        widget = QCheckBox()
    elif param.kind == "text":
        widget = QLineEdit()
        widget.setPlaceholderText(param.none_label)
    else:
        widget = QComboBox()
        if param.none_label:
            widget.addItem(param.none_label, None)
        for choice in param.choices:
            widget.addItem(choice, choice)
    widget.setToolTip(param.help)
    set_editor_value(widget, param.default)
    return widget


def _spin(param: Param) -> QWidget:
    if param.kind == "int":
        spin = QSpinBox()
        low = int(param.minimum) if param.minimum is not None else -_INT_LIMIT
        high = int(param.maximum) if param.maximum is not None else _INT_LIMIT
        spin.setAccelerated(True)
        step = 1
    else:
        spin = QDoubleSpinBox()
        spin.setDecimals(3)
        low = param.minimum if param.minimum is not None else -1e9
        high = param.maximum if param.maximum is not None else 1e9
        step = 0.05 if high - low <= 1.0 else 0.1
        spin.setSingleStep(step)
    if param.none_label:
        # One step below the range stands for "not given"; QSpinBox shows the label there.
        low -= step
        spin.setSpecialValueText(param.none_label)
    spin.setRange(low, high)
    spin.setKeyboardTracking(False)  # commit on Enter / focus-out, not on every digit
    return spin


def editor_value(widget: QWidget) -> Any:
    """The value ``widget`` holds; None where it is at "not given"."""
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, QLineEdit):
        return widget.text().strip() or None
    if widget.specialValueText() and widget.value() == widget.minimum():
        return None
    return widget.value()


def set_editor_value(widget: QWidget, value: Any) -> None:
    """Show ``value`` without emitting an edit."""
    widget.blockSignals(True)
    try:
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QComboBox):
            widget.setCurrentIndex(max(widget.findData(value), 0))
        elif isinstance(widget, QLineEdit):
            widget.setText("" if value is None else str(value))
        else:
            widget.setValue(widget.minimum() if value is None else value)
    finally:
        widget.blockSignals(False)


def on_edited(widget: QWidget, callback: Callable[[Any], None]) -> None:
    """Call ``callback(value)`` whenever the user changes ``widget``."""
    if isinstance(widget, QCheckBox):
        signal = widget.toggled
    elif isinstance(widget, QComboBox):
        signal = widget.currentIndexChanged
    elif isinstance(widget, QLineEdit):
        signal = widget.editingFinished
    else:
        signal = widget.valueChanged
    signal.connect(lambda *_args: callback(editor_value(widget)))
