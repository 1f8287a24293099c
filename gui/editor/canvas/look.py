"""How blocks look on the canvas: sizes, colours and the one-line summary of a block's parameters.

Kept apart from the items so the palette, the inspector and the canvas agree on a block's colour.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QFont

from engine.model.catalogue import CATALOGUE
from gui.editor.canvas.layout import BLOCK_HEIGHT, LINK_LENGTH  # noqa: F401 - read from here too

BLOCK_WIDTH = 340.0
CORNER = 8.0
BAND = 7.0  # width of the colour band on a block's left edge
# The activation thumbnail at a card's right end; the text keeps the rest of the card.
THUMB_WIDTH = 72.0

GROUP_COLOURS = {
    "Input": QColor("#64748b"),
    "CNN": QColor("#2563eb"),
    "RNN": QColor("#9333ea"),
    "Core": QColor("#0d9488"),
}
TEXT = QColor("#111827")
MUTED = QColor("#6b7280")
BORDER = QColor("#cbd5e1")
FILL = QColor("#ffffff")
SELECTED_BORDER = QColor("#2563eb")
SELECTED_FILL = QColor("#eff6ff")
ERROR = QColor("#dc2626")
ERROR_FILL = QColor("#fef2f2")
UNCHECKED_FILL = QColor("#f1f5f9")
LINK = QColor("#94a3b8")
SHAPE_PILL = QColor("#f8fafc")
BACKGROUND = QColor("#e9edf2")
GRID = QColor("#dde2e9")
DROP = QColor("#f97316")
GROUP_FILL = QColor(13, 148, 136, 22)  # a residual block's frame: the Core colour, faint
SKIP = QColor("#0d9488")  # its skip arrow and the ⊕ where the skip is added back


def group_colour(type_id: str) -> QColor:
    return GROUP_COLOURS[CATALOGUE[type_id].group]


def font(point_size: float, bold: bool = False, mono: bool = False) -> QFont:
    f = QFont("DejaVu Sans Mono" if mono else "DejaVu Sans")
    if mono:
        f.setStyleHint(QFont.StyleHint.Monospace)
    f.setPointSizeF(point_size)
    f.setBold(bold)
    return f


def format_count(n: int) -> str:
    """'0 params', '160 params', '12.3k params', '1.20M params'."""
    if n < 10_000:
        return f"{n:,} params"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k params"
    return f"{n / 1_000_000:.2f}M params"


def param_summary(type_id: str, params: dict[str, Any]) -> str:
    """The parameters worth reading at a glance, in words a student knows ('16 filters, 3×3')."""
    return CATALOGUE[type_id].summarise(params)
