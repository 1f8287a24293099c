"""What every live view shares: newest-snapshot storage, timer-driven painting, empty state, export.

Views never paint when data arrives. Probe snapshots come in through
:meth:`LiveView.take_snapshot` (the probe registry names the views of each kind), which stores
the newest one and marks the view dirty; the dashboard's timer calls
:meth:`LiveView.repaint_if_needed`, which paints only a visible, dirty view. That keeps painting
at a bounded rate whatever the training speed, and a hidden dock costs nothing until it is
shown again.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import CSVExporter, ImageExporter
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from gui.training.views.focus import BlockFocus

if TYPE_CHECKING:
    from engine.training.events import ProbeSnapshot

# The pseudo-kind of the sample the probes look at (a ProbeInput): not a probe of the registry,
# it reaches every view, and the views that draw the sample beside their data take it.
SAMPLE_KIND = "probe_input"

# Colours for runs and layers: distinguishable on a white background, colour-blind friendly
# first (Okabe-Ito), then tab10's remaining hues.
PALETTE = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#7F7F7F",
    "#BCBD22", "#17BECF",
)  # fmt: skip


class StickyRange:
    """Auto-range for a live plot that moves in steps, so that its axes are rarely redrawn.

    pyqtgraph's auto-range fits the view to the data on every update, so a growing curve
    changes both axes' ranges, and so their ticks, text and grid, on every frame: a 2,000-point
    curve's frame cost ~5 ms that way and ~1 ms with the range held (measured offscreen at
    480x330). Here the x range grows with 25 % headroom (x_headroom) and the y range covers the
    data with a 10 % margin (MARGIN); either moves only when the data leaves it or fills less
    than half of it.

    A zoom or pan with the mouse turns it off for that plot, as pyqtgraph's own auto-range
    does; the plot's "A" button (or its menu's auto-range) turns it back on.
    """

    MARGIN = 0.1  # on both sides of y, and of x when there is no headroom
    MIN_FILL = 0.5

    def __init__(self, plot: pg.PlotItem, x: bool = True, y: bool = True, x_headroom=0.25):
        """x_headroom: room left on the right for data still to come (0 for a fixed x)."""
        self.plot, self.x, self.y, self.x_headroom = plot, x, y, x_headroom
        self.box: pg.ViewBox = plot.getViewBox()
        self.box.disableAutoRange()
        self.box.sigRangeChangedManually.connect(self._user_moved)
        self.user_range = False
        self.x_range: tuple[float, float] | None = None
        self.y_range: tuple[float, float] | None = None

    def _user_moved(self, *_args) -> None:
        self.user_range = True

    def reset(self) -> None:
        """Fit the next data afresh (a new run, a log-scale toggle)."""
        self.x_range = self.y_range = None

    def update(self, x: Bounds | None, y: Bounds | None) -> None:
        """Keep the view on data with these bounds (see :func:`bounds_of`); None: no data."""
        if any(self.box.autoRangeEnabled()):  # the "A" button: back to the sticky range
            self.box.disableAutoRange()
            self.user_range = False
            self.reset()
        if self.user_range:
            return
        x_range, y_range = self.x_range, self.y_range
        x = _in_view(x, self.plot.getAxis("bottom").logMode) if self.x else None
        if x is not None and not _still_fits(x_range, x):
            lo, hi = x
            span = max(hi - lo, 1.0)
            # A lone point (a run's first) gets a margin on the left too, not half a dot.
            margin = 0.0 if self.x_headroom and hi > lo else self.MARGIN * span
            x_range = (lo - margin, hi + margin + span * self.x_headroom)
        y = _in_view(y, self.plot.getAxis("left").logMode) if self.y else None
        if y is not None and not _still_fits(y_range, y):
            lo, hi = y
            margin = (hi - lo) * self.MARGIN or max(abs(hi) * self.MARGIN, 1e-6)
            y_range = (lo - margin, hi + margin)
        if (x_range, y_range) != (self.x_range, self.y_range):
            self.x_range, self.y_range = x_range, y_range
            self.box.setRange(xRange=x_range, yRange=y_range, padding=0)


#: (min, max, smallest positive value or inf) of some data's finite values.
Bounds = tuple[float, float, float]


def bounds_of(*arrays: np.ndarray) -> Bounds | None:
    """The finite bounds of all these arrays together; None when they hold no finite value."""
    found = []
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        a = a[np.isfinite(a)]
        if a.size:
            positive = a[a > 0]
            found.append((a.min(), a.max(), positive.min() if positive.size else math.inf))
    return merge_bounds(*found)


def merge_bounds(*bounds: Bounds | None) -> Bounds | None:
    found = [b for b in bounds if b is not None]
    if not found:
        return None
    return (min(b[0] for b in found), max(b[1] for b in found), min(b[2] for b in found))


def _in_view(bounds: Bounds | None, log: bool) -> tuple[float, float] | None:
    """Bounds in view coordinates: log10 of the positive range on a log axis."""
    if bounds is None:
        return None
    lo, hi, lo_positive = bounds
    if not log:
        return float(lo), float(hi)
    if hi <= 0 or not math.isfinite(lo_positive):
        return None
    return math.log10(lo_positive), math.log10(hi)


def _still_fits(current: tuple[float, float] | None, bounds: tuple[float, float]) -> bool:
    if current is None:
        return False
    lo, hi = bounds
    span = current[1] - current[0]
    return current[0] <= lo and hi <= current[1] and (hi - lo) >= StickyRange.MIN_FILL * span


class LiveView(BlockFocus, QWidget):
    """Base of the dashboard's views: an empty-state page, a content page, an export button.

    Subclasses build their content in ``content``, store incoming data and call
    :meth:`mark_dirty`, and draw in :meth:`paint`. ``paint_count`` lets tests check that
    hidden views are not painted.
    """

    #: What the empty state says; subclasses replace it.
    empty_text = "Train a model to see this view."
    #: How to read the view, shown by its "?" button. The README's section "What each view
    #: shows, and how to read it" has the same words (tests/gui/test_views.py compares them).
    how_to_read = ""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(type(self).__name__)
        self.title = title
        self.paint_count = 0
        self._dirty = False
        self._has_data = False

        # The view's header: its caption, Export and "?". A widget of its own, so that a dock
        # can carry it in its title bar (gui/training/docks.py) rather than spend a row on it.
        self.header = QWidget()
        self.header.setObjectName("view_header")
        self.toolbar = QHBoxLayout(self.header)
        self.toolbar.setContentsMargins(4, 2, 4, 0)
        self.caption = ElidedLabel()
        self.toolbar.addWidget(self.caption, 1)
        self.toolbar.addWidget(self.make_focus_note())
        self.export_button = QToolButton(text="Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setToolTip("Save this view as a PNG image or its data as CSV")
        menu = QMenu(self.export_button)
        menu.addAction("Image (PNG)…", self._ask_png)
        menu.addAction("Data (CSV)…", self._ask_csv)
        self.export_button.setMenu(menu)
        self.toolbar.addWidget(self.export_button)
        self.help_button = QToolButton(text="?")
        self.help_button.setToolTip(self.help_html())
        self.help_button.setAccessibleName(f"How to read the {title} view")
        self.help_button.clicked.connect(self.show_help)
        self.toolbar.addWidget(self.help_button)

        self.empty_label = QLabel(self.empty_text)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: #666; padding: 24px;")
        self.content = QWidget()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.content)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.stack, 1)
        self._show_empty()

    def show_help(self) -> None:
        """Show "How to read this" beside the ? button (a click, not only a hover)."""
        corner = self.help_button.mapToGlobal(self.help_button.rect().bottomLeft())
        QToolTip.showText(corner, self.help_html(), self.help_button)

    def help_html(self) -> str:
        """how_to_read as rich text, which Qt word-wraps (a plain tooltip is one long line)."""
        paragraphs = [html.escape(line) for line in self.how_to_read.split("\n") if line]
        return f"<b>How to read this</b><p>{'</p><p>'.join(paragraphs)}</p>"

    # ------------------------------------------------------------ state

    @property
    def has_data(self) -> bool:
        return self._has_data

    @property
    def is_dirty(self) -> bool:
        return self._dirty

    def mark_dirty(self) -> None:
        self._dirty = True

    def is_on_screen(self) -> bool:
        """False for a closed dock and for a dock tabbed behind another.

        isVisible() alone is not enough: Qt 6 keeps the widgets of background tabs "visible"
        with an empty visible region. That region leaves out opaque children, though, and a
        view that is all plot canvas (Feature maps, Gradient flow) has an empty one on screen
        too; its header (in its dock's title bar, or its top row) then says where it is.
        """
        if not self.isVisible() or self.height() <= 0 or self.width() <= 0:
            return False
        return not self.visibleRegion().isEmpty() or not self.header.visibleRegion().isEmpty()

    def repaint_if_needed(self) -> bool:
        """Paint from the newest data if it changed and the view can be seen; True if painted."""
        if not self._dirty or not self.is_on_screen():
            return False
        self.repaint_now()
        return True

    def repaint_now(self) -> None:
        """Paint regardless of visibility (screenshots, exports, tests)."""
        self._dirty = False
        if self._has_data:
            self.stack.setCurrentWidget(self.content)
            self.export_button.setEnabled(True)
        self.paint()
        self.paint_count += 1

    def take_snapshot(self, snapshot: ProbeSnapshot) -> None:
        """Store a probe's newest snapshot; views override this for the kinds they show.

        Every view is offered the probe sample (SAMPLE_KIND) and may ignore it; any other kind
        that reaches a view which does not show it is a wiring error.
        """
        if snapshot.kind != SAMPLE_KIND:
            raise ValueError(f"The {self.title} view does not show {snapshot.kind} snapshots.")

    def show_problem(self, text: str) -> None:
        """A probe cannot run on this model: say why, in place of the empty state or the caption."""
        if self._has_data:
            self.caption.setText(text)
        else:
            self.empty_label.setText(text)

    def clear(self) -> None:
        """Forget all data and show the empty state again (a new run of another model)."""
        self._has_data = False
        self._dirty = False
        self.forget()
        self.forget_focus_state()
        self.caption.setText("")
        self._show_empty()

    def forget(self) -> None:
        """Drop the stored snapshots; views that keep history across runs leave it alone."""

    def _show_empty(self) -> None:
        self.empty_label.setText(self.empty_text)
        self.stack.setCurrentWidget(self.empty_label)
        self.export_button.setEnabled(False)

    def _got_data(self) -> None:
        self._has_data = True
        self.mark_dirty()
        self.refocus()  # a block chosen before its layer was in the data

    # ------------------------------------------------------------ subclass hooks

    def paint(self) -> None:  # pragma: no cover - every view overrides it
        raise NotImplementedError

    def export_item(self) -> pg.GraphicsItem | pg.GraphicsScene:
        """The plot or scene that the PNG and CSV exports read."""
        raise NotImplementedError

    def export_csv(self, path: str | Path) -> None:
        """Write the view's data as CSV (default: pyqtgraph's CSV exporter of its plot)."""
        self.repaint_now()
        CSVExporter(self.export_item()).export(str(path))

    def export_png(self, path: str | Path) -> None:
        self.repaint_now()
        item = self.export_item()
        target = item.scene() if isinstance(item, pg.GraphicsItem) else item
        exporter = ImageExporter(target)
        exporter.export(str(path))

    # ------------------------------------------------------------ file dialogs

    def _file_name(self, suffix: str) -> str:
        return self.title.lower().replace(" ", "_").replace("/", "_") + suffix

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export image", self._file_name(".png"), "PNG image (*.png)"
        )
        if path:
            self.export_png(path)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export data", self._file_name(".csv"), "CSV (*.csv)"
        )
        if path:
            self.export_csv(path)


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" where its text is wider than it, with the whole text
    as its tooltip; it never widens its dock (and the window) for a long text."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setToolTip(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, rect.width()
        )
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), shown)


def write_csv(path: str | Path, header: list[str], rows: np.ndarray | list) -> None:
    """Plain CSV for views whose data is an image or a table, which CSVExporter cannot read."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(_cell(v) for v in row) + "\n")


def _cell(value) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return str(value)
