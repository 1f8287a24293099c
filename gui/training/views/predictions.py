"""Evaluation views: confusion matrix and prediction grid (classifiers), predicted vs true (forecasts)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from engine.probes.snapshots import ClassificationReport, ForecastReport
from gui.training.views.base import (
    PALETTE,
    LiveView,
    StickyRange,
    bounds_of,
    write_csv,
)
from gui.training.views.plots import (
    PlotCanvas,
    cached,
    configure_image_item,
    image_view_box,
    legend_above,
    sequential_colormap,
    show_grid,
)

_LABEL_FONT = QFont()
_LABEL_FONT.setPointSize(8)
MAX_CELL_TEXT = 20  # above 20×20 classes the numbers would overlap; the colours still read
GRID_COLUMNS, GRID_ROWS = 10, 5
BORDER = 2
# Okabe-Ito blue and orange: told apart with every common colour-vision deficiency (green and
# red are not), and the labels say ✓ or ✗ besides.
RIGHT_FRAME, WRONG_FRAME = np.array([0, 114, 178], np.uint8), np.array([230, 159, 0], np.uint8)
RIGHT_TEXT, WRONG_TEXT = "#00466e", "#a34400"


def label_band(h: int) -> int:
    """Rows of white under each framed sample, where its label (two short lines) is drawn."""
    return max(8, round(0.8 * h))


class ConfusionMatrixView(LiveView):
    """Rows: true class, columns: predicted class. Colour is the row fraction, text the count."""

    empty_text = "Train a classifier to see which classes it confuses with which."
    how_to_read = (
        "(classifiers). Rows are the true class and columns the predicted class. The colour is "
        "the fraction of each true class (the colour bar runs from 0 to 1) and the number is "
        "the count. The off-diagonal cells are the classes the model mixes up."
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Confusion matrix", parent)
        self.report: ClassificationReport | None = None
        self.class_names: tuple[str, ...] = ()
        self.cell_labels: list[pg.TextItem] = []
        self._ticks: list = []
        self.graphics = PlotCanvas()
        self.plot = self.graphics.addPlot()
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.setLabel("left", "true class")
        self.plot.setLabel("bottom", "predicted class")
        self.item = configure_image_item(pg.ImageItem())
        self.item.setColorMap(sequential_colormap())
        self.plot.addItem(self.item)
        # The colour is a row's fraction, always 0..1: the bar never changes.
        self.colour_bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=sequential_colormap(), interactive=False, width=12
        )
        self.graphics.addItem(self.colour_bar, row=0, col=1)
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)

    def set_class_names(self, names: Sequence[str] | None) -> None:
        self.class_names = tuple(names or ())

    def set_report(self, report: ClassificationReport) -> None:
        self.report = report
        self._got_data()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "classification_report":
            self.set_report(snapshot.data)
        else:
            super().take_snapshot(snapshot)

    def forget(self) -> None:
        self.report = None

    @property
    def matrix(self) -> np.ndarray | None:
        return None if self.report is None else np.asarray(self.report.confusion)

    def paint(self) -> None:
        cm = self.matrix
        if cm is None:
            return
        k = cm.shape[0]
        totals = cm.sum(axis=1, keepdims=True)
        fraction = np.divide(cm, totals, out=np.zeros(cm.shape, np.float32), where=totals > 0)
        self.item.setImage(fraction.astype(np.float32), levels=(0.0, 1.0), autoLevels=False)
        names = self.class_names if len(self.class_names) == k else tuple(map(str, range(k)))
        ticks = [[(i + 0.5, names[i]) for i in range(k)]]
        if ticks != self._ticks:  # setTicks redraws and re-lays out both axes: only on change
            self._ticks = ticks
            self.plot.getAxis("left").setTicks(ticks)
            self.plot.getAxis("bottom").setTicks(ticks)
        self._paint_texts(cm, fraction)
        self.caption.setText(
            f"accuracy {self.report.accuracy:.1%} on {int(cm.sum())} validation samples"
        )

    def _paint_texts(self, cm: np.ndarray, fraction: np.ndarray) -> None:
        k = cm.shape[0]
        wanted = k * k if k <= MAX_CELL_TEXT else 0
        while len(self.cell_labels) > wanted:
            self.plot.removeItem(self.cell_labels.pop())
        while len(self.cell_labels) < wanted:
            text = cached(pg.TextItem(anchor=(0.5, 0.5)))
            self.plot.addItem(text)
            self.cell_labels.append(text)
        for index, text in enumerate(self.cell_labels):
            r, c = divmod(index, k)
            # Dark text on the bright (yellow) end of viridis, light text elsewhere.
            state = ("#111" if fraction[r, c] > 0.6 else "#eee", str(int(cm[r, c])), c, r)
            if getattr(text, "_shown", None) != state:  # a TextItem re-lays out on every set
                text._shown = state
                text.setColor(state[0])
                text.setText(state[1])
                text.setPos(c + 0.5, r + 0.5)

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        cm = self.matrix if self.matrix is not None else np.zeros((0, 0), np.int64)
        names = (
            self.class_names
            if len(self.class_names) == len(cm)
            else tuple(map(str, range(len(cm))))
        )
        write_csv(
            path,
            ["true \\ predicted", *names],
            [(names[i], *map(int, row)) for i, row in enumerate(cm)],
        )


def cell_size(h: int, w: int) -> tuple[int, int]:
    """(height, width) of one sample's cell: framed image, label band, one pixel of gap."""
    return h + 2 * BORDER + label_band(h) + 1, w + 2 * BORDER + 1


def prediction_mosaic(images: np.ndarray, correct: np.ndarray, columns: int) -> np.ndarray:
    """(N, C, H, W) images as an RGB uint8 grid, each framed blue (right) or orange (wrong),
    with a white band under each for its label."""
    n, c, h, w = images.shape
    rows = max(1, math.ceil(n / columns))
    th, tw = h + 2 * BORDER, w + 2 * BORDER
    cell_h, cell_w = cell_size(h, w)
    out = np.full((rows * cell_h, columns * cell_w, 3), 255, np.uint8)
    lo, hi = float(images.min()), float(images.max())
    scaled = ((images - lo) / (hi - lo or 1.0) * 255).clip(0, 255).astype(np.uint8)
    rgb = np.repeat(scaled, 3, axis=1) if c == 1 else scaled[:, :3]
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = r * cell_h, col * cell_w
        out[y : y + th, x : x + tw] = RIGHT_FRAME if correct[i] else WRONG_FRAME
        out[y + BORDER : y + BORDER + h, x + BORDER : x + BORDER + w] = rgb[i].transpose(1, 2, 0)
    return out


class PredictionGridView(LiveView):
    """Validation images with the predicted class under each; ✓ and a blue frame when right,
    ✗, the true class and an orange frame when wrong."""

    empty_text = "Train a classifier to see its predictions on validation samples."
    how_to_read = (
        "(classifiers). Under each validation image is its predicted class: ✓ and a blue frame "
        "when right; ✗, the true class and an orange frame when wrong. For 2-D inputs (moons, "
        "spirals, circles) the view is a scatter plot instead, coloured by the predicted class,"
        " with wrong points as crosses."
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Predictions", parent)
        self.report: ClassificationReport | None = None
        self.samples: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.class_names: tuple[str, ...] = ()
        self.shown = 0
        self.graphics = PlotCanvas()
        self.box = image_view_box(self.graphics)
        self.item = configure_image_item(pg.ImageItem())
        self.box.addItem(self.item)
        self.scatter_plot = pg.PlotItem()  # for 2-D vector inputs (moons, spirals, ...)
        self.scatter = pg.ScatterPlotItem(size=7)
        self.scatter_plot.addItem(self.scatter)
        self._texts: list[pg.TextItem] = []
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)

    def set_samples(
        self, x_val: np.ndarray | None, y_val: np.ndarray | None, class_names: Sequence[str] | None
    ) -> None:
        """The validation inputs the reports refer to (the first N of them are drawn)."""
        self.samples = None if x_val is None else np.asarray(x_val[: GRID_COLUMNS * GRID_ROWS * 20])
        self.labels = None if y_val is None else np.asarray(y_val)
        self.class_names = tuple(class_names or ())
        self.mark_dirty()

    def set_report(self, report: ClassificationReport) -> None:
        self.report = report
        self._got_data()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "classification_report":
            self.set_report(snapshot.data)
        else:
            super().take_snapshot(snapshot)

    def forget(self) -> None:
        self.report = None

    def paint(self) -> None:
        if self.report is None or self.samples is None:
            self.caption.setText("No validation samples to show.")
            return
        correct = np.asarray(self.report.correct)
        if self.samples.ndim == 4:
            self._paint_images(correct)
        elif self.samples.ndim == 2 and self.samples.shape[1] >= 2:
            self._paint_scatter(correct)
        else:
            self.caption.setText("The grid draws image and 2-D inputs; see the confusion matrix.")
            return
        wrong = int((~correct[: self.shown]).sum())
        self.caption.setText(f"{self.shown} validation samples, {wrong} wrong (✗, orange)")

    def _paint_images(self, correct: np.ndarray) -> None:
        n = min(GRID_COLUMNS * GRID_ROWS, len(self.samples), len(correct))
        self.shown = n
        self.item.setImage(
            prediction_mosaic(self.samples[:n], correct[:n], GRID_COLUMNS),
            levels=(0, 255),
            autoLevels=False,
        )
        _, _, h, w = self.samples.shape
        cell_h, cell_w = cell_size(h, w)
        while len(self._texts) < n:
            text = cached(pg.TextItem(anchor=(0.5, 0)))
            text.setFont(_LABEL_FONT)
            self.box.addItem(text)
            self._texts.append(text)
        for i, text in enumerate(self._texts):
            text.setVisible(i < n)
            if i < n:
                r, c = divmod(i, GRID_COLUMNS)
                label, colour = self._label(i, bool(correct[i]))
                state = (label, c, r, h, w)
                if getattr(text, "_shown", None) != state:  # only the changed predictions
                    text._shown = state
                    text.setText(label, colour)
                    # Centred in the band under the framed image.
                    text.setPos(c * cell_w + (w + 2 * BORDER) / 2, r * cell_h + h + 2 * BORDER)

    def _label(self, index: int, correct: bool) -> tuple[str, str]:
        """ "✓ 7" when right; "✗ 1" over "true 7" when wrong (on one line the labels of
        neighbouring samples ran into each other), with the label's colour."""
        predicted = self._name(int(self.report.predictions[index]))
        if correct:
            return f"✓ {predicted}", RIGHT_TEXT
        truth = self.labels[index] if self.labels is not None and index < len(self.labels) else None
        true_text = "" if truth is None else f"\ntrue {self._name(int(truth))}"
        return f"✗ {predicted}{true_text}", WRONG_TEXT

    def sample_labels(self) -> list[str]:
        """The labels under the samples, as last painted, in grid order."""
        return [t.toPlainText() for t in self._texts if t.isVisible()]

    def _paint_scatter(self, correct: np.ndarray) -> None:
        if self.scatter_plot.scene() is None:
            self.graphics.removeItem(self.box)
            self.graphics.addItem(self.scatter_plot)
        n = min(len(self.samples), len(correct))
        self.shown = n
        predicted = np.asarray(self.report.predictions)[:n]
        brushes = [pg.mkBrush(PALETTE[int(p) % len(PALETTE)]) for p in predicted]
        symbols = ["o" if ok else "x" for ok in correct[:n]]
        self.scatter.setData(
            self.samples[:n, 0], self.samples[:n, 1], brush=brushes, symbol=symbols, pen=None
        )

    def _name(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        rows = []
        if self.report is not None:
            truth = (
                self.labels if self.labels is not None else np.full(len(self.report.correct), -1)
            )
            for i, (p, ok, conf) in enumerate(
                zip(
                    self.report.predictions,
                    self.report.correct,
                    self.report.confidence,
                    strict=True,
                )
            ):
                rows.append(
                    (i, int(truth[i]) if i < len(truth) else -1, int(p), bool(ok), float(conf))
                )
        write_csv(path, ["sample", "true", "predicted", "correct", "confidence"], rows)


class ForecastView(LiveView):
    """Predicted against true values across validation samples, for one horizon step."""

    empty_text = (
        "Train a forecasting model (e.g. on the sine wave) to see predicted against true values."
    )
    how_to_read = (
        "(regression and forecasting). Predicted and true values across validation samples for "
        "one step of the forecast horizon, with the MSE and MAE in the caption."
    )
    MAX_POINTS = 400

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Forecast", parent)
        self.report: ForecastReport | None = None
        self.step_spin = QSpinBox(minimum=1, maximum=1)
        self.step_spin.setToolTip("Which step of the forecast horizon to compare")
        self.step_spin.valueChanged.connect(self._step_changed)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Horizon step"))
        controls.addWidget(self.step_spin)
        controls.addStretch(1)
        self.graphics = PlotCanvas()
        self.plot = self.graphics.addPlot(row=1, col=0)
        self.legend = legend_above(self.graphics, self.plot, row=0)
        show_grid(self.plot, 0.2)
        self.plot.setLabel("bottom", "validation sample")
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # values, not "(x0.001)" ticks
        self.true_curve = self.plot.plot(pen=pg.mkPen("#222", width=2), name="true")
        self.predicted_curve = self.plot.plot(pen=pg.mkPen(PALETTE[1], width=2), name="predicted")
        self.range = StickyRange(self.plot, x_headroom=0.0)
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)

    def forget(self) -> None:
        self.report = None

    def _step_changed(self, _step: int) -> None:
        self.range.reset()
        self.mark_dirty()

    def set_report(self, report: ForecastReport) -> None:
        self.report = report
        width = int(np.prod(report.target.shape[1:])) if report.target.ndim > 1 else 1
        self.step_spin.setMaximum(max(1, width))
        self._got_data()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "forecast_report":
            self.set_report(snapshot.data)
        else:
            super().take_snapshot(snapshot)

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        """(true, predicted) for the chosen horizon step, at most MAX_POINTS samples."""
        if self.report is None:
            return np.zeros(0), np.zeros(0)
        n = len(self.report.target)
        true = np.asarray(self.report.target).reshape(n, -1)[: self.MAX_POINTS]
        pred = np.asarray(self.report.predicted).reshape(n, -1)[: self.MAX_POINTS]
        col = min(self.step_spin.value(), true.shape[1]) - 1
        return true[:, col], pred[:, col]

    def paint(self) -> None:
        true, pred = self.series()
        x = np.arange(len(true))
        self.true_curve.setData(x, true)
        self.predicted_curve.setData(x, pred)
        self.range.update(bounds_of(x), bounds_of(true, pred))
        if self.report is not None:
            self.caption.setText(f"MSE {self.report.mse:.4g}, MAE {self.report.mae:.4g}")

    def export_item(self):
        return self.plot
