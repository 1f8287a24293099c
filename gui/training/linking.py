"""The diagram linked to the views: the block selected on the canvas (or on the model strip,
which selects through the same document) is the layer the views show, and the canvas's cards
draw each block's output for the probe sample (the block_outputs probe) as a thumbnail.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

from engine.training.events import ProbeSnapshot
from gui.editor.document import INPUT_ID, ModelDocument
from gui.training.views import LiveView

THUMBNAILS_KEY = "view/activation_thumbnails"


class DiagramLink(QObject):
    """Follows the document's selection into every view, and the block outputs onto the cards."""

    def __init__(self, document: ModelDocument, views: Iterable[LiveView], parent=None):
        super().__init__(parent)
        self.document = document
        self.views = tuple(views)
        self.scene = None  # the window's ModelScene, once attached
        self.settings: QSettings | None = None
        self.thumbnails_action = QAction("Activation thumbnails on blocks", self)
        self.thumbnails_action.setCheckable(True)
        self.thumbnails_action.setChecked(True)
        self.thumbnails_action.setToolTip(
            "Draw each block's output for the probe sample on its card during and after a run"
        )
        self.thumbnails_action.toggled.connect(self._thumbnails_toggled)
        self._outputs: tuple | None = None
        document.selection_changed.connect(self.selection_changed)

    def attach(self, window: QMainWindow) -> None:
        """Draw on ``window``'s canvas and add the View-menu item (its state kept in the
        window's QSettings)."""
        self.scene = getattr(window, "scene", None)
        self.settings = getattr(window, "settings", None)
        if self.settings is not None:
            shown = self.settings.value(THUMBNAILS_KEY, True, type=bool)
            self.thumbnails_action.setChecked(bool(shown))
        menu = getattr(window, "view_menu", None)
        if menu is not None:
            menu.addSeparator()
            menu.addAction(self.thumbnails_action)
        self._draw()

    # ------------------------------------------------------------ selection -> views

    def focused_block(self) -> str | None:
        """The one block selected (None for none, several, or the Input, which is no layer)."""
        selection = self.document.selection
        if len(selection) != 1 or selection[0] == INPUT_ID:
            return None
        return selection[0]

    def selection_changed(self) -> None:
        block = self.focused_block()
        for view in self.views:
            view.focus_block(block)

    # ------------------------------------------------------------ block outputs -> cards

    def take_snapshot(self, snapshot: ProbeSnapshot) -> None:
        """A block_outputs snapshot (the router sends those of every kind drawn on cards)."""
        if snapshot.error is None and snapshot.data is not None:
            self._outputs = tuple(snapshot.data)
            self._draw()

    def clear(self) -> None:
        """A new run: the last run's outputs leave the cards until the new run's come."""
        self._outputs = None
        self._draw()

    def _thumbnails_toggled(self, shown: bool) -> None:
        if self.settings is not None:
            self.settings.setValue(THUMBNAILS_KEY, bool(shown))
        self._draw()

    def _draw(self) -> None:
        if self.scene is None:
            return
        self.scene.set_thumbnails_shown(self.thumbnails_action.isChecked())
        self.scene.set_block_outputs(self._outputs)
