"""Evaluation views: the confusion matrix (classifiers) and predicted against true values
(forecasts). The prediction grid is in prediction_grid.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
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
    legend_above,
    sequential_colormap,
    show_grid,
)

MAX_CELL_TEXT = 20  # above 20×20 classes the numbers would overlap; the colours still read


class ReportView(LiveView):
    """A view that draws the newest report of one probe kind (``report_kind``): it keeps the
    report, takes it from its snapshots and forgets it for a new run."""

    report_kind = ""

    def set_report(self, report) -> None:
        self.report = report
        self._got_data()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == self.report_kind:
            self.set_report(snapshot.data)
        else:
            super().take_snapshot(snapshot)

    def forget(self) -> None:
        self.report = None


class ConfusionMatrixView(ReportView):
    """Rows: true class, columns: predicted class. Colour is the row fraction, text the count."""

    report_kind = "classification_report"
    empty_text = "Train a classifier to see which classes it confuses with which."
    how_to_read = (
        "Rows are the true class and columns the predicted class. The colour is "
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


class ForecastView(ReportView):
    """Predicted against true values across validation samples, for one horizon step."""

    report_kind = "forecast_report"
    empty_text = (
        "Train a forecasting model (e.g. on the sine wave) to see predicted against true values."
    )
    how_to_read = (
        "Predicted and true values across validation samples for "
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

    def _step_changed(self, _step: int) -> None:
        self.range.reset()
        self.mark_dirty()

    def set_report(self, report: ForecastReport) -> None:
        self.report = report
        width = int(np.prod(report.target.shape[1:])) if report.target.ndim > 1 else 1
        self.step_spin.setMaximum(max(1, width))
        super().set_report(report)

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
