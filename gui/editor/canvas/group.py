"""A residual block's frame on the canvas: the group around its card and its inner cards, the
skip arrow down its left lane, and the ⊕ at the bottom where the skip is added back."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem

from gui.editor.canvas import look
from gui.editor.canvas.layout import BLOCK_HEIGHT, END_HEIGHT, Group

ADD_RADIUS = 9.0


class GroupFrame(QGraphicsItem):
    """Drawn behind the cards; the scene sets its Group after every change."""

    def __init__(self, group: Group):
        super().__init__()
        self.group = group
        self.setZValue(-2)

    def set_group(self, group: Group) -> None:
        if group != self.group:
            self.prepareGeometryChange()
            self.group = group
            self.update()

    def frame_rect(self) -> QRectF:
        g = self.group
        half = look.BLOCK_WIDTH / 2 + g.margin
        return QRectF(-half, g.top, 2 * half, g.bottom - g.top)

    def add_point(self) -> QPointF:
        """The ⊕: where the inner blocks' output and the skip meet."""
        return QPointF(0, self.group.bottom - 6.0 - END_HEIGHT / 2)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self.frame_rect().adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.frame_rect()
        painter.setBrush(QBrush(look.GROUP_FILL))
        painter.setPen(QPen(look.SKIP, 1.2, Qt.PenStyle.DashLine))
        painter.drawRoundedRect(rect, look.CORNER + 4, look.CORNER + 4)
        # The skip: out of the block's card on the left, down the lane, into the ⊕.
        lane = rect.left() + self.group.margin / 2 - 4
        start_y = self.group.top + 8.0 + BLOCK_HEIGHT / 2
        add = self.add_point()
        path = QPainterPath(QPointF(-look.BLOCK_WIDTH / 2, start_y))
        path.lineTo(lane, start_y)
        path.lineTo(lane, add.y())
        path.lineTo(add.x() - ADD_RADIUS - 7, add.y())
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(look.SKIP, 2.0))
        painter.drawPath(path)
        tip = add.x() - ADD_RADIUS - 1
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(look.SKIP))
        painter.drawPolygon(
            QPolygonF([QPointF(tip - 8, add.y() - 5), QPointF(tip - 8, add.y() + 5), QPointF(tip, add.y())])
        )  # fmt: skip
        # The ⊕ itself, and what the skip does written beside it.
        painter.setBrush(QBrush(look.FILL))
        painter.setPen(QPen(look.SKIP, 2.0))
        painter.drawEllipse(add, ADD_RADIUS, ADD_RADIUS)
        arm = ADD_RADIUS - 4
        painter.drawLine(QLineF(add.x() - arm, add.y(), add.x() + arm, add.y()))
        painter.drawLine(QLineF(add.x(), add.y() - arm, add.x(), add.y() + arm))
        label = f"+ skip: {self.group.join}" if self.group.join else "+ skip"
        font = look.font(8.5)
        painter.setFont(font)
        painter.setPen(look.SKIP)
        width = QFontMetricsF(font).horizontalAdvance(label) + 4
        painter.drawText(
            QRectF(add.x() + ADD_RADIUS + 8, add.y() - 9, width, 18),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            label,
        )
