"""What the scene draws: one card per block (and for the Input), the links between them with the
tensor shape written on them, the output terminal, and the drop indicator.

Items hold only what they paint; the scene fills them from the document after every change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QApplication, QGraphicsItem, QGraphicsSceneMouseEvent

from gui.editor.canvas import look
from gui.editor.canvas.thumbnails import Thumbnail


@dataclass(frozen=True)
class CardContent:
    """Everything a card shows. ``state`` is "ok", "error" or "unchecked" (after an error)."""

    title: str
    subtitle: str
    summary: str
    shape: str
    count: str
    colour: QColor
    state: str = "ok"
    message: str = ""
    tooltip: str = ""


class BlockCard(QGraphicsItem):
    """A block (or the Input) as a rounded card; blocks can be dragged up and down to reorder."""

    def __init__(self, key: str, content: CardContent, movable: bool):
        super().__init__()
        self.key = key
        self.movable = movable
        self.content = content
        self._press_pos: QPointF | None = None
        self._dragging = False
        self._range_click = False  # the press was a Shift-click; the release must not reselect
        self.thumbnail: Thumbnail | None = None  # the block's output for the probe sample
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.OpenHandCursor if movable else Qt.CursorShape.ArrowCursor)
        self.set_content(content)

    def set_content(self, content: CardContent) -> None:
        self.content = content
        self._set_tooltip()
        self.update()

    def _set_tooltip(self) -> None:
        thumbnail = self.thumbnail
        extra = f"<p><i>{thumbnail.text}</i></p>" if thumbnail is not None else ""
        self.setToolTip(self.content.tooltip + extra)

    def set_thumbnail(self, thumbnail: Thumbnail | None) -> None:
        """Draw ``thumbnail`` at the card's right end (None: none; the text takes the room)."""
        if thumbnail is self.thumbnail:
            return
        self.thumbnail = thumbnail
        self._set_tooltip()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-look.BLOCK_WIDTH / 2 - 6, -6, look.BLOCK_WIDTH + 12, look.BLOCK_HEIGHT + 12)

    def thumbnail_rect(self) -> QRectF:
        """Where the thumbnail goes: the card's right end, clear of the text."""
        rect = self.card_rect()
        return QRectF(rect.right() - look.THUMB_WIDTH - 6, rect.top() + 6,
                      look.THUMB_WIDTH, rect.height() - 12)  # fmt: skip

    def text_rect(self) -> QRectF:
        """Where the name, the summary, the shape and the count go."""
        right = look.THUMB_WIDTH + 18 if self.thumbnail is not None else 12
        return self.card_rect().adjusted(look.BAND + 10, 6, -right, -6)

    def card_rect(self) -> QRectF:
        return QRectF(-look.BLOCK_WIDTH / 2, 0, look.BLOCK_WIDTH, look.BLOCK_HEIGHT)

    # ------------------------------------------------------------ painting

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        c = self.content
        rect = self.card_rect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill, border, width = look.FILL, look.BORDER, 1.0
        if c.state == "unchecked":
            fill = look.UNCHECKED_FILL
        if c.state == "error":
            fill, border, width = look.ERROR_FILL, look.ERROR, 2.5
        if self.isSelected() and c.state != "error":
            fill, border, width = look.SELECTED_FILL, look.SELECTED_BORDER, 2.0
        path = QPainterPath()
        path.addRoundedRect(rect, look.CORNER, look.CORNER)
        if self.isSelected():
            # A halo outside the border, so a selected invalid block still shows its red border.
            halo = QColor(look.SELECTED_BORDER)
            halo.setAlpha(110)
            painter.setPen(QPen(halo, 4.0))
            painter.drawRoundedRect(
                rect.adjusted(-3.5, -3.5, 3.5, 3.5), look.CORNER + 3, look.CORNER + 3
            )
        painter.setOpacity(0.75 if self._dragging else 1.0)
        painter.fillPath(path, fill)
        # The group colour as a band on the left edge, clipped to the rounded card.
        painter.save()
        painter.setClipPath(path)
        band = QColor(c.colour)
        if c.state == "unchecked":
            band.setAlpha(90)
        painter.fillRect(QRectF(rect.left(), rect.top(), look.BAND, rect.height()), band)
        painter.restore()
        painter.setPen(QPen(border, width))
        painter.drawPath(path)
        self._paint_text(painter, self.text_rect())
        if self.thumbnail is not None:
            self._paint_thumbnail(painter)

    def _paint_thumbnail(self, painter: QPainter) -> None:
        image, area = self.thumbnail.image, self.thumbnail_rect()
        scale = min(area.width() / image.width(), area.height() / image.height())
        if scale >= 1:  # whole screen pixels per cell, so every cell is the same size
            scale = math.floor(scale)
        w, h = image.width() * scale, image.height() * scale
        target = QRectF(area.right() - w, area.center().y() - h / 2, w, h)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # sharp cells
        painter.drawImage(target, image)
        painter.setPen(QPen(look.BORDER, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(target)
        painter.restore()

    def _paint_text(self, painter: QPainter, inner: QRectF) -> None:
        c = self.content
        muted = c.state == "unchecked"
        title_font, sub_font = look.font(10.5, bold=True), look.font(8.5)
        shape_font, small_font = look.font(9.5, bold=True, mono=True), look.font(8)
        half = inner.height() / 2
        shape_w = QFontMetricsF(shape_font).horizontalAdvance(c.shape) + 12
        count_w = (
            QFontMetricsF(small_font).horizontalAdvance(c.count) + 12 if c.state != "error" else 0
        )
        top = QRectF(inner.left(), inner.top(), inner.width() - shape_w, half)
        bottom = QRectF(inner.left(), inner.top() + half, inner.width() - count_w, half)
        # Title, then the block id in grey after it.
        painter.setFont(title_font)
        painter.setPen(look.MUTED if muted else look.TEXT)
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, c.title)
        title_w = QFontMetricsF(title_font).horizontalAdvance(c.title)
        painter.setFont(sub_font)
        painter.setPen(look.MUTED)
        sub_rect = top.adjusted(title_w + 8, 0, 0, 0)
        painter.drawText(
            sub_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetricsF(sub_font).elidedText(
                c.subtitle, Qt.TextElideMode.ElideRight, sub_rect.width()
            ),
        )
        # Second line: the key parameters, or the error in red (the whole message is the tooltip).
        line = c.message if c.state == "error" else c.summary
        painter.setPen(look.ERROR if c.state == "error" else look.MUTED)
        painter.drawText(
            bottom,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetricsF(sub_font).elidedText(line, Qt.TextElideMode.ElideRight, bottom.width()),
        )
        # Right column: output shape above, parameter count below.
        painter.setFont(shape_font)
        painter.setPen(look.ERROR if c.state == "error" else (look.MUTED if muted else look.TEXT))
        painter.drawText(
            QRectF(inner.left(), inner.top(), inner.width(), half),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            c.shape,
        )
        if c.state != "error":
            painter.setFont(small_font)
            painter.setPen(look.MUTED)
            painter.drawText(
                QRectF(inner.left(), inner.top() + half, inner.width(), half),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                c.count,
            )

    # ------------------------------------------------------------ selection and reorder by drag

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt's name
        if (
            event.button() == Qt.MouseButton.LeftButton
            and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            # Shift-click extends the selection as a range, like a list; Qt only knows Ctrl-toggle.
            self.scene().select_range_to(self.key)
            self._range_click = True
            event.accept()
            return
        self._range_click = False
        self._press_pos = event.scenePos() if event.button() == Qt.MouseButton.LeftButton else None
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.movable or self._press_pos is None:
            return
        if not self._dragging:
            distance = (event.scenePos() - self._press_pos).manhattanLength()
            if distance < QApplication.startDragDistance():
                return
            self._dragging = True
            self.setZValue(10)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        self.scene().reorder_moved(self, event.scenePos().y() - self._press_pos.y())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._dragging:
            self._dragging = False
            self._press_pos = None
            self.setZValue(0)
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            # One drag is one undo step: the move reaches the document only here.
            self.scene().reorder_finished(self)
            event.accept()
            return
        self._press_pos = None
        if self._range_click:
            self._range_click = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    @property
    def dragging(self) -> bool:
        return self._dragging


class LinkItem(QGraphicsItem):
    """The arrow from one card to the next, labelled with the tensor shape that flows along it."""

    def __init__(self, y_top: float, y_bottom: float, label: str, known: bool):
        super().__init__()
        self.y_top, self.y_bottom, self.label, self.known = y_top, y_bottom, label, known
        self.setZValue(-1)

    def set_link(self, y_top: float, y_bottom: float, label: str, known: bool) -> None:
        self.prepareGeometryChange()
        self.y_top, self.y_bottom, self.label, self.known = y_top, y_bottom, label, known
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-8, self.y_top, look.BLOCK_WIDTH / 2 + 8, self.y_bottom - self.y_top)

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(look.LINK, 2.0)
        if not self.known:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        tip = self.y_bottom - 1
        painter.drawLine(QLineF(0, self.y_top, 0, tip - 6))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(look.LINK))
        painter.drawPolygon(QPolygonF([QPointF(-5, tip - 8), QPointF(5, tip - 8), QPointF(0, tip)]))
        font = look.font(8.5, mono=True)
        metrics = QFontMetricsF(font)
        w = metrics.horizontalAdvance(self.label) + 14
        h = metrics.height() + 4
        pill = QRectF(12, (self.y_top + self.y_bottom - h) / 2, w, h)
        painter.setBrush(QBrush(look.SHAPE_PILL))
        painter.setPen(QPen(look.BORDER, 1))
        painter.drawRoundedRect(pill, h / 2, h / 2)
        painter.setFont(font)
        painter.setPen(look.TEXT if self.known else look.MUTED)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, self.label)


class OutputTerminal(QGraphicsItem):
    """A small pill under the last block: where the model's output leaves the stack."""

    WIDTH, HEIGHT = 120.0, 26.0

    def __init__(self):
        super().__init__()
        self.known = True

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-self.WIDTH / 2 - 1, -1, self.WIDTH + 2, self.HEIGHT + 2)

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(-self.WIDTH / 2, 0, self.WIDTH, self.HEIGHT)
        painter.setBrush(QBrush(look.GROUP_COLOURS["Input"] if self.known else look.UNCHECKED_FILL))
        painter.setPen(
            Qt.PenStyle.NoPen if self.known else QPen(look.BORDER, 1, Qt.PenStyle.DashLine)
        )
        painter.drawRoundedRect(rect, self.HEIGHT / 2, self.HEIGHT / 2)
        painter.setFont(look.font(9, bold=True))
        painter.setPen(QColor("white") if self.known else look.MUTED)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Output")


class DropIndicator(QGraphicsItem):
    """The line that shows where a dragged block would land."""

    def __init__(self):
        super().__init__()
        self.setZValue(20)
        self.hide()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(-look.BLOCK_WIDTH / 2 - 12, -7, look.BLOCK_WIDTH + 24, 14)

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        half = look.BLOCK_WIDTH / 2 + 4
        painter.setPen(QPen(look.DROP, 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QLineF(-half, 0, half, 0))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(look.DROP))
        painter.drawEllipse(QPointF(-half, 0), 6, 6)
        painter.drawEllipse(QPointF(half, 0), 6, 6)
