"""The view around the model scene: drops from the palette, zoom, pan and fit.

A drop reads only the catalogue id from the MIME data and asks the document to insert that
block at the index under the cursor; the drop indicator shows that index while dragging.

Fit shows the whole model, but never at a zoom where a card's text is too small to read: a tall
model is shown from its top (the Input) at the readable zoom instead. A fitted view stays
fitted while it is resized (the docks take their sizes after the window is first shown, and
the user drags splitters) until the user zooms or scrolls it.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QMenu, QToolTip, QWidget

from engine.model.spec import BlockPath, SpecError
from gui.editor.canvas import look
from gui.editor.canvas.palette import block_type_from_mime
from gui.editor.canvas.scene import SCENE_MARGIN, ModelScene

_MIN_ZOOM, _MAX_ZOOM = 0.2, 3.0
_GRID = 24.0
# Fit never shrinks a card's summary line (8.5 pt in items.py, the smallest text a person
# reads on a card: "16 filters, 3×3") below this many pixels on screen.
_SUMMARY_POINTS = 8.5
READABLE_TEXT_PX = 10.0


class ModelView(QGraphicsView):
    def __init__(self, scene: ModelScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.model_scene = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPoint | None = None
        self._fitted = False  # the view shows what fit_to_model chose; resizes fit again
        self._fitting = False  # a fit that shows or hides a scroll bar resizes the viewport
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.actionTriggered.connect(self._left_fit)  # only the user's own scrolling
        # Actions offered on a card's right-click menu; the window that owns them fills this in.
        self.context_actions: list[QAction] = []

    # ------------------------------------------------------------ zoom and pan

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    @property
    def fitted(self) -> bool:
        """True while the view shows what Fit chose (it then fits again when resized)."""
        return self._fitted

    def readable_zoom(self) -> float:
        """The smallest zoom at which a card's summary line is READABLE_TEXT_PX tall."""
        summary_px = _SUMMARY_POINTS * self.logicalDpiY() / 72
        return READABLE_TEXT_PX / summary_px

    def set_zoom(self, factor: float) -> None:
        factor = max(_MIN_ZOOM, min(_MAX_ZOOM, factor))
        self.scale(factor / self.zoom, factor / self.zoom)
        self._fitted = False

    def zoom_by(self, steps: float) -> None:
        self.set_zoom(self.zoom * 1.15**steps)

    def fit_to_model(self) -> None:
        """Show the whole stack, between the readable zoom and the cards' natural size; a
        model too tall for that is shown from its top, the Input card. The cards always fit
        across."""
        rect = self.model_scene.model_rect().adjusted(-30, -SCENE_MARGIN, 30, SCENE_MARGIN)
        self._fitting = True
        try:
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
            # A canvas too narrow for a card at the readable zoom fits the cards' width: a
            # card cut off at the side hides its text anyway. The width is taken as if the
            # vertical scroll bar were shown: measured with and without it, a fit that shows
            # or hides the bar changed the width, which fitted again, forever (a tall model
            # in a canvas squeezed at first show: 54 px with the bar, 68 without).
            bar = self.verticalScrollBar()
            width = self.viewport().width() - (0 if bar.isVisible() else bar.sizeHint().width())
            across = max(1, width) / rect.width()
            zoom = min(1.0, max(self.zoom, min(self.readable_zoom(), across)))
            self.scale(zoom / self.zoom, zoom / self.zoom)
            visible_height = self.viewport().height() / zoom
            top = rect.center().y() if visible_height >= rect.height() else (
                rect.top() + visible_height / 2
            )  # fmt: skip
            self.centerOn(rect.center().x(), top)
        finally:
            self._fitting = False
        self._fitted = True

    def _left_fit(self) -> None:
        self._fitted = False

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._fitted and not self._fitting:
            self.fit_to_model()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(event.angleDelta().y() / 120)
            event.accept()
            return
        self._fitted = False  # the wheel scrolls the view away from what Fit chose
        super().wheelEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._pan_from is not None:
            self._fitted = False
            delta = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self.model_scene.document.set_selection(())
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt's name
        card = self.itemAt(event.pos())
        key = getattr(card, "key", None)
        if key is None or not self.context_actions:
            super().contextMenuEvent(event)
            return
        document = self.model_scene.document
        if key not in document.selection:
            document.set_selection([key])
        menu = QMenu(self)
        menu.addActions(self.context_actions)
        self.show_menu(menu, event.globalPos())

    def show_menu(self, menu: QMenu, global_pos: QPoint) -> None:
        """Run a popup menu (its own method so tests can stand in for the modal loop)."""
        menu.exec(global_pos)

    # ------------------------------------------------------------ drops from the palette

    def _drop_index(self, position: QPointF) -> BlockPath:
        return self.model_scene.insertion_index_at(self.mapToScene(position.toPoint()).y())

    def _follow_drag(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        """Accept a palette block and show where it would land; refuse anything else."""
        if block_type_from_mime(event.mimeData()) is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.model_scene.show_drop_indicator(self._drop_index(event.position()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        self._follow_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt's name
        self._follow_drag(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802 - Qt's name
        self.model_scene.hide_drop_indicator()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        self.model_scene.hide_drop_indicator()
        type_id = block_type_from_mime(event.mimeData())
        if type_id is None:
            event.ignore()
            return
        index = self._drop_index(event.position())
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        try:
            block_id = self.model_scene.document.insert_block(index, type_id)
        except SpecError as err:  # nested deeper than the limit, too many blocks: say why
            QToolTip.showText(self.mapToGlobal(event.position().toPoint()), str(err), self)
            return
        self.model_scene.document.set_selection([block_id])

    # ------------------------------------------------------------ background

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt's name
        painter.fillRect(rect, look.BACKGROUND)
        if self.zoom < 0.45:
            return  # a dot grid this dense is noise
        painter.setPen(QPen(look.GRID, 2.0))
        left = int(rect.left() // _GRID) * _GRID
        top = int(rect.top() // _GRID) * _GRID
        points = []
        y = top
        while y < rect.bottom():
            x = left
            while x < rect.right():
                points.append(QPointF(x, y))
                x += _GRID
            y += _GRID
        painter.drawPoints(points)
