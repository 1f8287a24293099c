"""The views' plotting pieces: the canvas and its readable, cached axes, legends outside the
plots, colour maps and image mosaics."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGraphicsItem, QWidget

WIDE_LOG_SPAN = 2.0  # decades; narrower log axes also label the 2 and 5 multiples


class ReadableAxis(pg.AxisItem):
    """An axis whose log-mode labels do not pile up.

    pyqtgraph labels every minor tick of a log axis (0.1 0.09 0.08 ... 0.02), which overlap
    into a smear. Here a log axis that spans two decades or more labels only the decades; a
    narrower one labels the 1, 2 and 5 multiples. In a short plot (the Gradient flow's norm by
    depth is ~50 px tall), a label closer to one already placed than a line of text is left
    out, the decades placed first. The tick marks and grid lines all stay.
    """

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        strings = super().logTickStrings(values, scale, spacing)
        low, high = sorted(self.range)
        wide = high - low >= WIDE_LOG_SPAN
        shown = self._spaced([v for v in values if _labelled(v, wide)], low, high)
        return [text if v in shown else "" for v, text in zip(values, strings, strict=True)]

    def _spaced(self, candidates: list[float], low: float, high: float) -> set[float]:
        """The candidates that keep a line of text apart, decades first (each level of ticks
        is labelled by its own call, so the decades are placed the same way in every one)."""
        vertical = self.orientation in ("left", "right")
        length = self.size().height() if vertical else self.size().width()
        if length <= 0 or high <= low:
            return set(candidates)
        metrics = QFontMetrics(self.style.get("tickFont") or self.font())
        gap = metrics.height() if vertical else metrics.horizontalAdvance("0.05") + 4
        per_decade = length / (high - low)
        decades = [float(d) for d in range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1)]
        placed: list[float] = []
        for value in decades + sorted(candidates, key=_mantissa):
            near = any(abs(value - p) * per_decade < gap for p in placed)
            if not near and value not in placed:
                placed.append(value)
        return {v for v in candidates if any(abs(v - p) < 1e-9 for p in placed)}


def _mantissa(log_value: float) -> float:
    return round(10 ** (log_value - math.floor(log_value + 1e-9)), 6)


def _labelled(log_value: float, wide: bool) -> bool:
    mantissa = _mantissa(log_value)
    if wide:
        return mantissa == 1
    return mantissa in (1, 2, 5)


class PlotCanvas(pg.GraphicsLayoutWidget):
    """The views' GraphicsLayoutWidget: white, readable log axes (ReadableAxis) that are cached
    (see cache_axes)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        # pyqtgraph binds addPlot on each instance (to its central layout's), so a method
        # defined on this class would never be called.
        self.addPlot = self._add_plot

    def _add_plot(self, *args, **kwargs) -> pg.PlotItem:
        kwargs.setdefault(
            "axisItems", {"left": ReadableAxis("left"), "bottom": ReadableAxis("bottom")}
        )
        plot = self.ci.addPlot(*args, **kwargs)
        cache_axes(plot)
        return plot


def cached(item: QGraphicsItem) -> QGraphicsItem:
    """Let Qt keep a rarely changing item (a cell's label) as a pixmap: repainting the view
    around it then copies the pixmap instead of calling the item's Python paint()."""
    item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return item


def cache_axes(plot: pg.PlotItem) -> None:
    """Let Qt keep each axis (with its grid lines) as a pixmap until its range or labels change.

    Without it every repaint of a plot replays every axis's tick text and grid lines from
    Python (~1 ms an axis at dashboard sizes), time the window cannot answer the user in;
    with it an unchanged axis is a C++ pixmap copy. pyqtgraph invalidates the cache itself
    (update()) whenever the axis must be redrawn.
    """
    for name in ("left", "bottom", "right", "top"):
        cached(plot.getAxis(name))


def diverging_colormap() -> pg.ColorMap:
    """Blue-white-red: zero is white, so the sign and size of a weight read at a glance."""
    return pg.ColorMap([0.0, 0.5, 1.0], [(33, 102, 172), (247, 247, 247), (178, 24, 43)])


def sequential_colormap() -> pg.ColorMap:
    return pg.colormap.get("viridis")


def mosaic(tiles: np.ndarray, columns: int, gap: int = 1) -> np.ndarray:
    """Lay (N, h, w) tiles out row by row, ``columns`` per row, NaN-filled gaps between them.

    One image holding every tile paints ~10x faster than one ImageItem per tile, and NaN gaps
    draw transparent, so the tiles stay visibly separate.
    """
    count, h, w = tiles.shape
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, dtype=np.float32)
    for index in range(count):
        r, c = divmod(index, columns)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tiles[index]
    return out


def square_columns(count: int) -> int:
    return max(1, math.ceil(math.sqrt(count)))


def configure_image_item(item: pg.ImageItem) -> pg.ImageItem:
    # Row-major so a (rows, cols) numpy array shows with rows going down, as printed.
    item.setOpts(axisOrder="row-major")
    return item


def dot_when_lone(curve: pg.PlotDataItem, points: int, colour) -> None:
    """One point draws no line: ``curve`` shows a dot while it has one point, a line after."""
    lone = points == 1
    if lone != (curve.opts["symbol"] is not None):
        curve.setSymbol("o" if lone else None)
        curve.setSymbolBrush(colour)
        curve.setSymbolPen(None)
        curve.setSymbolSize(6)


def show_grid(plot: pg.PlotItem, alpha: float) -> None:
    """Grid lines at the major and minor ticks only.

    pyqtgraph's default third tick level adds ~35 near-invisible lines per axis (alpha ~10/255
    at dashboard sizes) and made a plot's repaint ~3x slower (16 ms against 6 ms at 480x330,
    offscreen), time taken from the GUI thread's paint budget.
    """
    plot.showGrid(x=True, y=True, alpha=alpha)
    for name in ("left", "bottom"):
        plot.getAxis(name).setStyle(maxTickLevel=1)


def legend_above(
    canvas: pg.GraphicsLayoutWidget, plot: pg.PlotItem, row: int, columns: int = 2
) -> pg.LegendItem:
    """A legend in its own layout row (above ``plot``), never on top of the curves.

    It becomes the plot's legend, so curves made with ``plot.plot(name=...)`` join it and
    leave it with ``plot.removeItem`` as they would with ``plot.addLegend()``.
    """
    legend = pg.LegendItem(labelTextSize="8pt", colCount=columns)
    canvas.addItem(legend, row=row, col=0)
    plot.legend = legend
    return legend


def image_view_box(widget: pg.GraphicsLayoutWidget, row: int = 0, col: int = 0) -> pg.ViewBox:
    """A ViewBox for pixel images: square pixels, y growing downwards, no mouse menu clutter."""
    box = widget.addViewBox(row=row, col=col, lockAspect=True, invertY=True, enableMenu=False)
    return box
