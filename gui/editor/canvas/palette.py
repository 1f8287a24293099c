"""The block palette: every catalogue block, grouped CNN / RNN / Core, to drag onto the canvas.

A drag carries only the block's catalogue id (BLOCK_MIME_TYPE); the canvas looks the block up
when it is dropped, so the palette knows nothing about the model.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QBrush, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.model.catalogue import CATALOGUE, GROUPS
from gui.editor.canvas import look

BLOCK_MIME_TYPE = "application/x-layerlab-block-type"
_TYPE_ROLE = Qt.ItemDataRole.UserRole
_GROUP_TITLES = {"CNN": "CNN — images", "RNN": "RNN — sequences", "Core": "Core"}


def block_mime_data(type_id: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(BLOCK_MIME_TYPE, type_id.encode("ascii"))
    return mime


def block_type_from_mime(mime: QMimeData) -> str | None:
    """The catalogue id a drag carries, or None when it carries something else."""
    if not mime.hasFormat(BLOCK_MIME_TYPE):
        return None
    type_id = bytes(mime.data(BLOCK_MIME_TYPE).data()).decode("ascii", errors="replace")
    return type_id if type_id in CATALOGUE else None


def _swatch(colour) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(colour))
    painter.drawRoundedRect(1, 1, 10, 10, 3, 3)
    painter.end()
    return QIcon(pixmap)


class _BlockTree(QTreeWidget):
    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt's name
        return [BLOCK_MIME_TYPE]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 - Qt's name
        type_id = items[0].data(0, _TYPE_ROLE) if items else None
        return block_mime_data(type_id) if type_id else QMimeData()


class BlockPalette(QWidget):
    """Grouped list of blocks; drag one onto the canvas, or double-click to append it."""

    block_activated = Signal(str)  # a block type was double-clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tree = _BlockTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(10)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setDefaultDropAction(Qt.DropAction.CopyAction)
        self._items: dict[str, QTreeWidgetItem] = {}
        for group in GROUPS:
            header = QTreeWidgetItem(self.tree, [_GROUP_TITLES.get(group, group)])
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            title_font = header.font(0)
            title_font.setBold(True)
            header.setFont(0, title_font)
            for block_type in CATALOGUE.in_group(group):
                item = QTreeWidgetItem(header, [block_type.title])
                item.setData(0, _TYPE_ROLE, block_type.id)
                item.setIcon(0, _swatch(look.group_colour(block_type.id)))
                # Rich text makes Qt wrap the long help texts instead of one screen-wide line.
                item.setToolTip(
                    0,
                    f"<p><b>{html.escape(block_type.title)}</b></p><p>{html.escape(block_type.help)}</p>",
                )
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
                self._items[block_type.id] = item
            header.setExpanded(True)
        self.help_label = QLabel(
            "Drag a block onto the canvas, or double-click it to add it at the end."
        )
        self.help_label.setWordWrap(True)
        self.help_label.setObjectName("paletteHelp")
        self.help_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.help_label.setMinimumHeight(90)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.help_label)
        self.tree.itemDoubleClicked.connect(self._on_double_clicked)
        self.tree.currentItemChanged.connect(self._on_current_changed)

    def item_for(self, type_id: str) -> QTreeWidgetItem:
        return self._items[type_id]

    def mime_data_for(self, type_id: str) -> QMimeData:
        """What dragging ``type_id`` out of the palette carries (used by the tests' drops, too)."""
        return self.tree.mimeData([self._items[type_id]])

    def _on_double_clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        type_id = item.data(0, _TYPE_ROLE)
        if type_id:
            self.block_activated.emit(type_id)

    def _on_current_changed(self, item: QTreeWidgetItem | None, _previous) -> None:
        type_id = item.data(0, _TYPE_ROLE) if item else None
        if type_id:
            block_type = CATALOGUE[type_id]
            self.help_label.setText(
                f"<b>{html.escape(block_type.title)}</b> — {html.escape(block_type.help)}"
            )
