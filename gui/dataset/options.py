"""The dataset panel's option fields: a built-in set's parameters, or a file format's options.

Both are declared in the engine as Params (``BuiltinInfo.params``, ``FileFormat.params`` and the
split options every source takes) and drawn by the inspector's widget factory. ``values()``
leaves out options that are at "not given" (None), so the options stored with a choice stay the
ones the user actually set and the loader's own defaults (e.g. a CSV's detected header) apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from engine.data import BuiltinInfo, DatasetError
from engine.data.formats import SPLIT_PARAMS, detect_format
from engine.model.params import Param
from gui.editor.param_widgets import editor_for, editor_value, set_editor_value


class OptionsForm(QWidget):
    """The option fields for the source chosen in the dataset panel."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.params: dict[str, Param] = {}
        self.editors: dict[str, QWidget] = {}

    def show_builtin(self, info: BuiltinInfo) -> None:
        self._rebuild(info.params)

    def show_file(self, path: Path) -> None:
        """The options of ``path``'s format; none but the split when it is not one LayerLab
        reads (the load then says why)."""
        try:
            params = detect_format(path).params
        except DatasetError:
            params = ()
        self._rebuild(params)

    def values(self) -> dict[str, Any]:
        """Loader keyword options; None ("not given") is left out."""
        out = {name: editor_value(widget) for name, widget in self.editors.items()}
        return {k: v for k, v in out.items() if v is not None}

    def set_values(self, options: dict[str, Any]) -> None:
        """Show ``options``; a field they do not name goes back to its default."""
        for name, widget in self.editors.items():
            set_editor_value(widget, options.get(name, self.params[name].default))

    def _rebuild(self, params: tuple[Param, ...]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)  # deletes the row's widgets too
        self.params = {p.name: p for p in (*params, *SPLIT_PARAMS)}
        self.editors = {}
        for param in self.params.values():
            label = QLabel(param.title)
            label.setToolTip(param.help)
            self.editors[param.name] = editor_for(param)
            self._layout.addRow(label, self.editors[param.name])
