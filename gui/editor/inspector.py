"""The inspector: edits the selected block's parameters, or the Input's kind and shape.

Each parameter gets the widget its declaration asks for (gui/editor/param_widgets.py, shared
with the Dataset panel's options), so nothing out of range can be typed. Edits go through
the document, one undoable step each; the widgets are rebuilt only when another block is
selected and otherwise just follow the spec, so a spin box keeps its focus while it is edited.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.model.catalogue import CATALOGUE, INPUT_HELP
from engine.model.params import ParamError
from engine.model.shapes import format_shape
from engine.model.spec import INPUT_BOUNDS, INPUT_DIM_NAMES, INPUT_KINDS
from gui.editor.document import INPUT_ID, ModelDocument
from gui.editor.param_widgets import editor_for, on_edited, set_editor_value

# Shape offered when the Input switches kind and its old dimensions do not fit the new one.
_DEFAULT_SHAPES = {"image": (1, 28, 28), "sequence": (50, 1), "vector": (2,)}


class InspectorPanel(QWidget):
    def __init__(self, document: ModelDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self._shown: tuple | None = None
        self.editors: dict[str, QWidget] = {}
        self.title = QLabel()
        self.title.setObjectName("inspectorTitle")
        self.shapes = QLabel()
        self.shapes.setObjectName("inspectorShapes")
        self.help = QLabel()
        self.help.setWordWrap(True)
        self.help.setObjectName("inspectorHelp")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setObjectName("inspectorError")
        self.fix_button = QPushButton()
        self.fix_button.clicked.connect(self._apply_fix)
        self._form_host = QWidget()
        self.form = QFormLayout(self._form_host)
        self.form.setContentsMargins(0, 4, 0, 4)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        body = QWidget()
        layout = QVBoxLayout(body)
        for widget in (
            self.title,
            self.shapes,
            self._form_host,
            self.error,
            self.fix_button,
            self.help,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        document.spec_changed.connect(self.refresh)
        document.selection_changed.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------ what is shown

    def _target(self) -> tuple:
        selection = self.document.selection
        if len(selection) != 1:
            return ("many", len(selection)) if selection else ("none",)
        key = selection[0]
        if key == INPUT_ID:
            return ("input",)
        spec = self.document.spec
        return ("block", key, spec.block_at(spec.path_of(key)).type)

    def refresh(self) -> None:
        target = self._target()
        if target != self._shown:
            self._rebuild(target)
            self._shown = target
        self._update_values(target)

    def _clear_form(self) -> None:
        while self.form.rowCount():
            row = self.form.takeRow(0)
            for item in (row.labelItem, row.fieldItem):
                if item is not None and item.widget() is not None:
                    item.widget().hide()
                    # deleteLater: the widget may be the one whose signal led here.
                    item.widget().deleteLater()
        self.editors = {}

    def _rebuild(self, target: tuple) -> None:
        self._clear_form()
        kind = target[0]
        if kind == "block":
            block_type = CATALOGUE[target[2]]
            self.title.setText(
                f"<b>{html.escape(block_type.title)}</b> &nbsp;<span style='color:#6b7280'>{target[1]}</span>"
            )
            self.help.setText(block_type.help)
            for param in block_type.params:
                widget = editor_for(param)
                on_edited(widget, lambda value, name=param.name: self._commit_param(name, value))
                label = QLabel(param.title)
                label.setToolTip(param.help)
                self.form.addRow(label, widget)
                self.editors[param.name] = widget
            if not block_type.params:
                self.form.addRow(QLabel("<i>This block has no parameters.</i>"))
        elif kind == "input":
            self.title.setText("<b>Input</b>")
            self.help.setText(INPUT_HELP)
            self._build_input_form()
        else:
            count = target[1] if kind == "many" else 0
            self.title.setText(f"<b>{count} blocks selected</b>" if count else "")
            self.help.setText(
                "Select a block on the canvas to edit its parameters. Drag blocks from the palette "
                "onto the canvas; drag a block up or down to reorder it."
            )

    def _build_input_form(self) -> None:
        kind_combo = QComboBox()
        for kind_name in INPUT_KINDS:
            kind_combo.addItem(kind_name, kind_name)
        kind_combo.currentTextChanged.connect(self._commit_input_kind)
        self.form.addRow("Kind", kind_combo)
        self.editors["kind"] = kind_combo
        for i in range(max(INPUT_KINDS.values())):
            spin = QSpinBox()
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._commit_input_shape)
            self.form.addRow(f"dim {i}", spin)
            self.editors[f"dim{i}"] = spin

    def _update_values(self, target: tuple) -> None:
        spec, inference = self.document.spec, self.document.inference
        self.error.hide()
        self.fix_button.hide()
        self.shapes.hide()
        if target[0] == "input":
            self._update_input_values()
            return
        if target[0] == "none":
            self._show_model_overview()
            return
        if target[0] != "block":
            return
        for name, value in spec.block_at(spec.path_of(target[1])).params.items():
            set_editor_value(self.editors[name], value)
        info = inference.find(target[1])
        if info is None:  # inside a block that is not checked yet
            return
        if info.join is not None:
            self.shapes.setText(
                f"{format_shape(info.input_shape)} → <b>{format_shape(info.output_shape)}</b>"
                f" &nbsp;·&nbsp; {info.param_count:,} parameters<br>"
                f"output = inner blocks + skip; skip: <b>{html.escape(info.join)}</b>"
            )
            self.shapes.show()
        elif info.error:
            self.error.setText(f"⚠ {info.error}")
            self.error.show()
            # Inside a residual block the fix offered is the outer block's, aimed through it,
            # which inference has checked against the whole model.
            fix = inference.blocks[spec.path_of(target[1])[0]].fix
            if fix:
                self.fix_button.setText(f"Fix: {fix.label}")
                self.fix_button.show()
        elif info.output_shape is not None:
            self.shapes.setText(
                f"{format_shape(info.input_shape)} → <b>{format_shape(info.output_shape)}</b>"
                f" &nbsp;·&nbsp; {info.param_count:,} parameters"
            )
            self.shapes.show()

    def _show_model_overview(self) -> None:
        """With nothing selected, the inspector describes the whole model."""
        spec, inference = self.document.spec, self.document.inference
        self.title.setText(f"<b>{html.escape(spec.name)}</b>")
        rows = [
            ("Input", f"{spec.input.kind} {format_shape(spec.input.shape)}"),
            (
                "Output",
                format_shape(inference.output_shape)
                if inference.valid and inference.output_shape
                else "—",
            ),
            ("Blocks", str(len(spec.blocks))),
            ("Parameters", f"{inference.total_params:,}"),
        ]
        if spec.dataset:
            rows.append(("Dataset", html.escape(spec.dataset)))
        cells = "".join(
            f"<tr><td style='color:#64748b; padding-right:12px'>{k}</td><td>{v}</td></tr>"
            for k, v in rows
        )
        self.shapes.setText(f"<table>{cells}</table>")
        self.shapes.show()

    def _update_input_values(self) -> None:
        inp = self.document.spec.input
        set_editor_value(self.editors["kind"], inp.kind)
        names, bounds = INPUT_DIM_NAMES[inp.kind], INPUT_BOUNDS[inp.kind]
        for i in range(max(INPUT_KINDS.values())):
            spin = self.editors[f"dim{i}"]
            visible = i < len(names)
            self.form.setRowVisible(spin, visible)
            if visible:
                spin.blockSignals(True)
                spin.setRange(*bounds[i])
                spin.setValue(inp.shape[i])
                spin.blockSignals(False)
                label = self.form.labelForField(spin)
                label.setText(names[i].capitalize())

    # ------------------------------------------------------------ edits

    def _commit_param(self, name: str, value: Any) -> None:
        if self._shown is None or self._shown[0] != "block":
            return
        path = self.document.spec.path_of(self._shown[1])
        try:
            self.document.set_params(path, {name: value})
        except ParamError as err:  # the widgets' ranges should make this unreachable
            self.error.setText(f"⚠ {name}: {err}")
            self.error.show()

    def _commit_input_kind(self, kind: str) -> None:
        old = self.document.spec.input
        shape = old.shape if len(old.shape) == INPUT_KINDS[kind] else _DEFAULT_SHAPES[kind]
        self.document.set_input(kind, shape)

    def _commit_input_shape(self) -> None:
        inp = self.document.spec.input
        shape = tuple(self.editors[f"dim{i}"].value() for i in range(len(inp.shape)))
        self.document.set_input(inp.kind, shape)

    def _apply_fix(self) -> None:
        if self._shown and self._shown[0] == "block":
            # A fix inside a residual block is aimed through it: apply the outermost block's.
            path = self.document.spec.path_of(self._shown[1])
            self.document.apply_fix(path[0])
