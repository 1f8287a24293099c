"""What the dataset panel draws: a few samples with their labels, and the class balance.

:func:`make_preview` does all the array work (slicing, tiling, scaling, counting) and runs in the
loader's worker thread; the views below only hand its arrays to pyqtgraph. The samples shown are
the first ones of the validation split (the training split when there is none), because that is
the split the trainer's probes take their chosen sample from, so a clicked sample's index means
the same thing to the training dashboard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, Signal
from PySide6.QtGui import QFont, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget

from engine.data import Dataset

# The training views' palette (gui/training/views/base.py), repeated rather than imported: that
# package pulls in torch through engine.probes, and the dataset panel must not wait for torch.
PALETTE = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#7F7F7F",
    "#BCBD22", "#17BECF",
)  # fmt: skip

MAX_TILES = 32  # images: a 8×4 mosaic stays legible in a dock a few hundred pixels wide
MAX_CURVES = 8  # sequences: stacked small plots
MAX_POINTS = 2000  # 2-D points: enough to see the shape, cheap to draw
MAX_CURVE_FEATURES = 3  # more features than this read better as a heatmap than as lines
GAP = 1


@dataclass(frozen=True, eq=False)
class DatasetPreview:
    """Ready-to-draw arrays for one dataset; ``kind`` is "mosaic", "curves" or "scatter".

    ``indices`` are the shown samples' indices into ``split`` ("val" or "train"), in the order
    they are drawn; ``labels`` their class names or target values as text.
    """

    kind: str
    split: str
    indices: np.ndarray
    labels: tuple[str, ...]
    class_names: tuple[str, ...] | None
    train_counts: np.ndarray | None
    val_counts: np.ndarray | None
    mosaic: np.ndarray | None = None  # (H, W) grey with NaN gaps, or (H, W, 3) colour
    levels: tuple[float, float] = (0.0, 1.0)
    tile_shape: tuple[int, int] = (0, 0)
    columns: int = 1
    label_rows: int = 0  # blank image rows under each tile row, where its labels are written
    curves: np.ndarray | None = None  # (n, T, k): each feature scaled to 0..1 across samples
    points: np.ndarray | None = None  # (n, 2)
    groups: np.ndarray | None = None  # (n,) class index of each point, None for regression
    axis_names: tuple[str, str] = ("x₀", "x₁")

    def tile_at(self, col: float, row: float) -> int | None:
        """Position in the drawn order of the mosaic tile under image pixel (col, row)."""
        h, w = self.tile_shape
        if self.kind != "mosaic" or col < 0 or row < 0:
            return None
        c, r = int(col // (w + GAP)), int(row // (h + self.label_rows + GAP))
        position = r * self.columns + c
        return position if c < self.columns and position < len(self.indices) else None

    def tile_origin(self, position: int) -> tuple[int, int]:
        """(col, row) pixel of the top-left corner of the tile drawn at ``position``."""
        h, w = self.tile_shape
        r, c = divmod(position, self.columns)
        return c * (w + GAP), r * (h + self.label_rows + GAP)


def make_preview(dataset: Dataset) -> DatasetPreview:
    """Slice and lay out a few samples of ``dataset`` for drawing; safe in a worker thread."""
    use_val = dataset.num_val > 0
    split = "val" if use_val else "train"
    x = dataset.x_val if use_val else dataset.x_train
    y = dataset.y_val if use_val else dataset.y_train
    common = dict(
        split=split,
        class_names=dataset.class_names,
        train_counts=dataset.class_counts("train"),
        val_counts=dataset.class_counts("val"),
    )
    if dataset.input_kind == "image":
        n = min(len(x), MAX_TILES)
        return _mosaic(x[:n], _labels(dataset, y[:n]), columns=8, **common)
    if dataset.input_kind == "sequence":
        n = min(len(x), MAX_CURVES)
        labels = _labels(dataset, y[:n])
        if x.shape[2] > MAX_CURVE_FEATURES:
            # (T, F) -> (F, T) strips: one row per feature, time running left to right.
            return _mosaic(x[:n].transpose(0, 2, 1)[:, None], labels, columns=2, **common)
        curves = x[:n].astype(np.float32, copy=True)
        lo, hi = curves.min(axis=(0, 1)), curves.max(axis=(0, 1))
        curves = (curves - lo) / np.where(hi > lo, hi - lo, 1.0)
        return DatasetPreview(
            "curves", indices=np.arange(n), labels=labels, curves=curves, **common
        )
    n = min(len(x), MAX_POINTS)
    points = x[:n, :2] if x.shape[1] >= 2 else np.column_stack([x[:n, 0], np.zeros(n)])
    return DatasetPreview(
        "scatter",
        indices=np.arange(n),
        labels=_labels(dataset, y[:n]),
        points=np.ascontiguousarray(points, dtype=np.float32),
        groups=y[:n].copy() if dataset.class_names is not None else None,
        axis_names=("feature 0", "feature 1") if x.shape[1] != 2 else ("x₀", "x₁"),
        **common,
    )


def _labels(dataset: Dataset, y: np.ndarray) -> tuple[str, ...]:
    if dataset.class_names is not None:
        return tuple(dataset.class_names[int(c)] for c in y)
    values = dataset.denormalise_y(y)
    return tuple(f"{float(v[0]):.3g}" + ("…" * (len(v) > 1)) for v in values)


def _mosaic(tiles: np.ndarray, labels, columns: int, **common) -> DatasetPreview:
    n, channels, h, w = tiles.shape
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    colour = channels == 3
    # A strip under each row of tiles holds the labels, so no text covers a sample. A tile's
    # width on screen is about the same whatever its pixel count, so the strip is a share of it.
    label_rows = max(2, math.ceil(0.3 * w))
    pitch = h + label_rows + GAP
    # Grey gaps are NaN (drawn transparent); an RGB image has no NaN, so colour gaps are white.
    shape = (rows * pitch - GAP, columns * (w + GAP) - GAP) + ((3,) if colour else ())
    out = np.full(shape, 1.0 if colour else np.nan, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        tile = np.moveaxis(tiles[i], 0, -1) if colour else tiles[i, 0]
        out[r * pitch : r * pitch + h, c * (w + GAP) : c * (w + GAP) + w] = tile
    finite = out[np.isfinite(out)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return DatasetPreview(
        "mosaic",
        indices=np.arange(n),
        labels=labels,
        mosaic=out,
        levels=(lo, hi if hi > lo else lo + 1.0),
        tile_shape=(h, w),
        columns=columns,
        label_rows=label_rows,
        **common,
    )


def class_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


class SamplePreviewView(QWidget):
    """A few samples with labels; a click on one emits its index in the preview's split."""

    sample_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.preview: DatasetPreview | None = None
        self.selected_position: int | None = None
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self._box: pg.ViewBox | None = None
        self._highlight = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

    def show_preview(self, preview: DatasetPreview | None) -> None:
        self.graphics.clear()
        self.preview, self.selected_position, self._highlight, self._box = preview, None, None, None
        if preview is None:
            return
        draw = {"mosaic": self._draw_mosaic, "curves": self._draw_curves}
        draw.get(preview.kind, self._draw_scatter)(preview)

    def select_position(self, position: int | None) -> None:
        """Highlight the sample drawn at ``position`` (None clears the highlight)."""
        preview = self.preview
        if preview is None or position is None or not 0 <= position < len(preview.indices):
            position = None
        self.selected_position = position
        if self._highlight is not None:
            self._highlight.setVisible(position is not None)
        if position is None or self._highlight is None:
            return
        if preview.kind == "mosaic":
            col, row = preview.tile_origin(position)
            h, w = preview.tile_shape
            self._highlight.setRect(QRectF(col - 0.5, row - 0.5, w + 1, h + 1))
        elif preview.kind == "curves":
            top = len(preview.indices) - 1 - position
            self._highlight.setRect(QRectF(0, top - 0.05, preview.curves.shape[1] - 1, 1.0))
        else:
            self._highlight.setData(pos=preview.points[position : position + 1])

    def _draw_mosaic(self, p: DatasetPreview) -> None:
        # Square pixels, rows going down as printed, no zooming a preview by accident.
        box = self._box = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        box.setMouseEnabled(False, False)
        image = pg.ImageItem(axisOrder="row-major")
        image.setImage(p.mosaic, levels=p.levels)
        box.addItem(image)
        font = QFont()
        font.setPointSizeF(7.5)
        h, w = p.tile_shape
        for position, label in enumerate(p.labels):
            col, row = p.tile_origin(position)
            text = pg.TextItem(label, color="#222", anchor=(0.5, 0))
            text.setFont(font)
            text.setPos(col + w / 2, row + h)
            box.addItem(text)
        self._highlight = self._rect_item()
        box.addItem(self._highlight)

    def _draw_curves(self, p: DatasetPreview) -> None:
        plot = self.graphics.addPlot()
        self._box = plot.getViewBox()
        plot.hideAxis("left")
        plot.setLabel("bottom", "time step")
        plot.setMouseEnabled(False, False)
        n, steps, features = p.curves.shape
        t = np.arange(steps)
        for position in range(n):
            offset = n - 1 - position  # the first sample on top, as in a list
            for f in range(features):
                pen = pg.mkPen(class_colour(f), width=1.5)
                plot.plot(t, offset + 0.1 + 0.8 * p.curves[position, :, f], pen=pen)
            text = pg.TextItem(p.labels[position], color="#000", anchor=(0, 0))
            text.setPos(0, offset + 1.0)
            plot.addItem(text)
        self._highlight = self._rect_item()
        plot.addItem(self._highlight)

    def _draw_scatter(self, p: DatasetPreview) -> None:
        plot = self.graphics.addPlot()
        self._box = plot.getViewBox()
        plot.setLabel("bottom", p.axis_names[0])
        plot.setLabel("left", p.axis_names[1])
        if p.groups is None:
            brushes = pg.mkBrush(PALETTE[0])
        else:
            palette = [pg.mkBrush(class_colour(i)) for i in range(int(p.groups.max(initial=0)) + 1)]
            brushes = [palette[int(g)] for g in p.groups]
        scatter = pg.ScatterPlotItem(
            pos=p.points, size=6, pen=None, brush=brushes, data=np.arange(len(p.points))
        )
        scatter.sigClicked.connect(self._on_points_clicked)
        plot.addItem(scatter)
        self._highlight = pg.ScatterPlotItem(size=14, pen=pg.mkPen("#000", width=2), brush=None)
        self._highlight.setVisible(False)
        plot.addItem(self._highlight)

    def _rect_item(self) -> QGraphicsRectItem:
        item = QGraphicsRectItem()
        pen = QPen(pg.mkColor("#D55E00"))
        pen.setCosmetic(True)  # the same 2 px whatever the zoom
        pen.setWidth(2)
        item.setPen(pen)
        item.setVisible(False)
        return item

    @property
    def highlight_shown(self) -> bool:
        return self._highlight is not None and self._highlight.isVisible()

    def viewport_point_of(self, position: int) -> QPoint | None:
        """Where the tile of ``position`` is drawn in ``graphics.viewport()`` (mosaics), for
        clicking it; None for other kinds."""
        p = self.preview
        if p is None or p.kind != "mosaic" or self._box is None:
            return None
        col, row = p.tile_origin(position)
        h, w = p.tile_shape
        scene = self._box.mapViewToScene(QPointF(col + w / 2, row + h / 2))
        return self.graphics.mapFromScene(scene)

    def position_at(self, x: float, y: float) -> int | None:
        """Which drawn sample lies under view coordinates (x, y), for mosaics and curves."""
        p = self.preview
        if p is None:
            return None
        if p.kind == "mosaic":
            return p.tile_at(x, y)
        if p.kind == "curves":
            n = len(p.indices)
            position = n - 1 - math.floor(y)
            return position if 0 <= position < n and 0 <= x <= p.curves.shape[1] else None
        return None

    def _on_scene_clicked(self, event) -> None:
        # Points have their own hit test (sigClicked); tiles and curve bands are found here.
        if self._box is None or self.preview is None or self.preview.kind == "scatter":
            return
        point = self._box.mapSceneToView(event.scenePos())
        self._choose(self.position_at(point.x(), point.y()))

    def _on_points_clicked(self, _item, points, _event=None) -> None:
        if len(points):
            self._choose(int(points[0].data()))

    def _choose(self, position: int | None) -> None:
        if position is None or self.preview is None:
            return
        self.select_position(position)
        self.sample_clicked.emit(int(self.preview.indices[position]))


class ClassBalanceView(pg.PlotWidget):
    """Samples per class, train and validation side by side; hidden for regression data."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background="w")
        self.setMouseEnabled(False, False)
        self.setMenuEnabled(False)
        self.getPlotItem().setLabel("left", "samples")
        self.train_bars = pg.BarGraphItem(x=[], height=[], width=0.4, brush=PALETTE[0])
        self.val_bars = pg.BarGraphItem(x=[], height=[], width=0.4, brush=PALETTE[1])
        self.addItem(self.train_bars)
        self.addItem(self.val_bars)
        legend = self.getPlotItem().addLegend(offset=(-5, 2), colCount=2)
        legend.addItem(self.train_bars, "train")
        legend.addItem(self.val_bars, "validation")
        self.setMinimumHeight(140)

    def show_counts(self, names, train: np.ndarray | None, val: np.ndarray | None) -> None:
        if names is None or train is None:
            self.train_bars.setOpts(x=[], height=[])
            self.val_bars.setOpts(x=[], height=[])
            return
        x = np.arange(len(names), dtype=float)
        self.train_bars.setOpts(x=x - 0.2, height=train)
        self.val_bars.setOpts(x=x + 0.2, height=val if val is not None else np.zeros_like(train))
        step = max(1, math.ceil(len(names) / 20))  # at most ~20 readable tick labels
        ticks = [(float(i), str(names[i])) for i in range(0, len(names), step)]
        self.getPlotItem().getAxis("bottom").setTicks([ticks])
        self.getPlotItem().setXRange(-0.6, len(names) - 0.4, padding=0)
        # Headroom above the tallest bar keeps the legend clear of the bars.
        top = float(max(train.max(initial=0), 1))
        self.getPlotItem().setYRange(0, top * 1.3, padding=0)
