"""The model as a compact strip along the top of the Train workspace: one chip per block with
its name and output shape, so the layers stay in sight while the views take the space the
canvas has in Build. Clicking a chip selects that block (the views follow the selection)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from gui.editor.document import ModelDocument


def _shape_text(shape) -> str:
    return "×".join(map(str, shape)) if shape else "?"


class ModelStrip(QScrollArea):
    """A row of checkable chips, one per block, redrawn from the document's spec; the chips of
    the selected blocks are checked (highlighted) whatever selected them."""

    def __init__(self, document: ModelDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.setObjectName("modelStrip")
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        # A long model scrolls sideways rather than making the window wider than the screen.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # No wider than its chips where the row has room (sizeHint), narrower where it has not.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        row = QWidget()
        self.row = QHBoxLayout(row)
        self.row.setContentsMargins(4, 2, 4, 2)
        self.row.setSpacing(4)
        self.setWidget(row)
        self.chips: dict[str, QToolButton] = {}
        document.spec_changed.connect(self.rebuild)
        document.selection_changed.connect(self.follow_selection)
        self.rebuild()

    def rebuild(self) -> None:
        """One chip per block, in model order: the input's shape first, then each block's."""
        while self.row.count():
            item = self.row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.chips = {}
        spec, inference = self.document.spec, self.document.inference
        self.row.addWidget(QLabel(f"Input {_shape_text(spec.input.shape)}"))
        for block, info in zip(spec.blocks, inference.blocks, strict=False):
            chip = QToolButton()
            chip.setCheckable(True)
            chip.setAutoRaise(False)
            chip.setText(f"{block.id}\n{_shape_text(info.output_shape)}")
            chip.setToolTip(f"{block.id} ({block.type}): output {_shape_text(info.output_shape)}"
                            " — click to show this layer in the views")  # fmt: skip
            chip.clicked.connect(lambda _=False, block_id=block.id: self.select(block_id))
            self.row.addWidget(chip)
            self.chips[block.id] = chip
        self.row.addStretch(1)
        # As tall as a chip, whatever the window's height: the views get the rest.
        self.setFixedHeight(self.sizeHint().height())
        self.follow_selection()

    def select(self, block_id: str) -> None:
        """A chip was clicked: that block becomes the document's selection."""
        self.document.set_selection([block_id])

    def follow_selection(self) -> None:
        selected = set(self.document.selection)
        for block_id, chip in self.chips.items():
            chip.setChecked(block_id in selected)

    def sizeHint(self):  # noqa: N802 - Qt's name
        # As wide as its chips (QScrollArea's own hint stops at 36 characters), and as tall as
        # a chip (two lines) plus a horizontal scroll bar's room, no taller: the run bar beside
        # it in the Train workspace takes the rest of the row.
        hint = super().sizeHint()
        row = self.widget().sizeHint()
        hint.setWidth(row.width() + 2 * self.frameWidth())
        hint.setHeight(row.height() + self.horizontalScrollBar().sizeHint().height())
        return hint
