"""The dataset panel's option fields: a built-in set's parameters, or a file format's options.

Each field maps one loader keyword to one widget. ``values()`` leaves out options that are at
"not given" (None), so the options stored with a choice stay the ones the user actually set and
the engine's own defaults (e.g. a CSV's detected header) still apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from engine.data import BuiltinInfo
from engine.data.idx import IDX_NAME
from engine.data.loaders import CSV_SUFFIXES
from engine.model.params import Param

_SEED_MAX = 2**31 - 1


def file_format(path: Path) -> str:
    """One of "npz", "csv", "idx", "images" or "unknown", from names only (cheap on the GUI thread);
    the loader does the real checks and explains what is wrong."""
    name = path.name.lower()
    if path.is_dir():
        try:
            has_idx = any(IDX_NAME.search(p.name) for p in path.iterdir())
        except OSError:
            return "unknown"
        return "idx" if has_idx else "images"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    return "idx" if IDX_NAME.search(path.name) else "unknown"


@dataclass
class _Field:
    name: str
    widget: QWidget
    get: Callable[[], Any]
    set: Callable[[Any], None]
    default: Any


def _spin(minimum: float, maximum: float, default: Any, decimals: int | None = None):
    box = QDoubleSpinBox() if decimals is not None else QSpinBox()
    if decimals is not None:
        box.setDecimals(decimals)
        box.setSingleStep(10.0 ** -min(decimals, 2))
    if decimals is None:
        minimum, maximum, default = int(minimum), int(maximum), int(default)
    box.setRange(minimum, maximum)
    box.setValue(default)
    box.setKeyboardTracking(False)
    return box


def _number_field(name: str, default: Any, minimum, maximum, decimals=None, special="") -> _Field:
    box = _spin(minimum, maximum, default if default is not None else minimum, decimals)
    if special:
        # The minimum doubles as "not given" (None): QSpinBox shows the special text there.
        box.setSpecialValueText(special)

        def get() -> Any:
            return None if box.value() == box.minimum() else box.value()
    else:
        get = box.value

    def set_(value: Any) -> None:
        box.setValue(box.minimum() if value is None else value)

    return _Field(name, box, get, set_, default)


def _check_field(name: str, default: bool, text: str = "") -> _Field:
    box = QCheckBox(text)
    box.setChecked(bool(default))
    return _Field(name, box, box.isChecked, lambda v: box.setChecked(bool(v)), default)


def _choice_field(name: str, default: Any, choices: list[tuple[str, Any]]) -> _Field:
    combo = QComboBox()
    for text, value in choices:
        combo.addItem(text, value)

    def set_(value: Any) -> None:
        combo.setCurrentIndex(max(combo.findData(value), 0))

    set_(default)
    return _Field(name, combo, combo.currentData, set_, default)


def _column_field() -> _Field:
    edit = QLineEdit()
    edit.setPlaceholderText("last column")
    edit.setToolTip("Column name, or its 0-based number")

    def get() -> Any:
        text = edit.text().strip()
        if not text:
            return None
        return int(text) if text.isdigit() else text

    return _Field("target", edit, get, lambda v: edit.setText("" if v is None else str(v)), None)


def _param_field(param: Param) -> _Field:
    if param.kind == "bool":
        return _check_field(param.name, param.default)
    if param.kind == "choice":
        return _choice_field(param.name, param.default, [(c, c) for c in param.choices])
    low = param.minimum if param.minimum is not None else -1e9
    high = param.maximum if param.maximum is not None else 1e9
    decimals = 3 if param.kind == "float" else None
    return _number_field(param.name, param.default, low, high, decimals)


def _format_fields(fmt: str) -> list[tuple[str, _Field]]:
    if fmt == "npz":
        kinds = [("from the array shape", None), ("image", "image"), ("sequence", "sequence")]
        return [("Input kind", _choice_field("kind", None, [*kinds, ("vector", "vector")]))]
    if fmt == "csv":
        window = _number_field("window", None, 0, 1_000_000, special="none: one sample a line")
        window.widget.setToolTip("Steps per input sequence, for a time series")
        return [("Target column", _column_field()), ("Window length", window)]
    if fmt == "idx":
        return [("Layout", _check_field("transpose", False, "Transposed images (EMNIST)"))]
    if fmt == "images":
        return [
            ("Image size", _number_field("size", 28, 4, 1024)),
            ("Colour", _check_field("colour", False, "Colour (RGB) instead of grey")),
        ]
    return []


class OptionsForm(QWidget):
    """The option fields for the source chosen in the dataset panel."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.fields: dict[str, _Field] = {}

    def show_builtin(self, info: BuiltinInfo) -> None:
        self._rebuild([(p.title, _param_field(p)) for p in info.params])

    def show_file(self, fmt: str) -> None:
        self._rebuild(_format_fields(fmt))

    def values(self) -> dict[str, Any]:
        """Loader keyword options; None ("not given") is left out."""
        out = {name: field.get() for name, field in self.fields.items()}
        return {k: v for k, v in out.items() if v is not None}

    def set_values(self, options: dict[str, Any]) -> None:
        """Show ``options``; a field they do not name goes back to its default."""
        for name, field in self.fields.items():
            field.set(options.get(name, field.default))

    def _rebuild(self, rows: list[tuple[str, _Field]]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)  # deletes the row's widgets too
        val = _number_field("val_fraction", 0.2, 0.0, 0.9, decimals=2)
        val.widget.setToolTip("Share of the samples kept for validation (seeded, stratified)")
        seed = _number_field("seed", 0, 0, _SEED_MAX)
        seed.widget.setToolTip("Seed of the split and of generated data: same seed, same data")
        rows = [*rows, ("Validation fraction", val), ("Seed", seed)]
        self.fields = {field.name: field for _, field in rows}
        for label, field in rows:
            self._layout.addRow(label, field.widget)
