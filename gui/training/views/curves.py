"""Loss and metric curves: per-step training, per-epoch validation, settings markers, past runs.

Built for runs of a million steps: each series keeps a bounded number of points (series.py:
older steps thinned to each stretch's lowest and highest value, the newest at full resolution;
the whole history is in the run folder), curves are created once and updated with setData, and
the plots use peak downsampling with clip-to-view so a repaint touches ~screen-width points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QVBoxLayout, QWidget

from engine.training.events import EpochMetrics, RunStarted, SettingsChanged, StepMetrics
from gui.training.views.base import (
    PALETTE,
    LiveView,
    StickyRange,
    merge_bounds,
    write_csv,
)
from gui.training.views.plots import (
    PlotCanvas,
    dot_when_lone,
    legend_above,
    show_grid,
)
from gui.training.views.series import GrowableSeries, ema, peak_downsample

MAX_PAST_RUNS = 6  # older runs are dropped: a legend of twenty runs compares nothing
__all__ = ["GrowableSeries", "LossCurvesView", "RunCurves", "ema", "peak_downsample"]


# Epochs past which the validation curves lose their dots (a dot is 6 px; 100 fill a grid view).
MAX_EPOCH_DOTS = 100
# A dashed line 2 px wide is stroked dash by dash, and costs what its length on screen is: a
# long run's validation curves, a point every pixel column and zigzagging with the noise, took
# most of a frame (python -m bench.curves_paint: 1,200 epochs in a 1920×1080 grid cell, 59 ms
# a frame against 9). Past their dots they are drawn a point every DASHED_PX_PER_POINT pixels
# (peak downsampling: a bucket's highest and lowest epochs stay) with Qt's 1 px dashed pen,
# which draws its dashes pixel by pixel.
DASHED_PX_PER_POINT = 4


@dataclass
class RunCurves:
    """One run's series and the curves that draw them (created once, then setData)."""

    run_id: int
    label: str
    colour: str
    train_loss: GrowableSeries = field(default_factory=GrowableSeries)
    train_metric: GrowableSeries = field(default_factory=GrowableSeries)
    val_loss: GrowableSeries = field(default_factory=lambda: GrowableSeries(64))
    val_metric: GrowableSeries = field(default_factory=lambda: GrowableSeries(64))
    items: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    smoothed: GrowableSeries = field(default_factory=GrowableSeries)  # EMA of train_loss
    markers: list[pg.InfiniteLine] = field(default_factory=list)
    metric_name: str = "accuracy"


class LossCurvesView(LiveView):
    """Training loss per step and validation loss per epoch (top), accuracy or MAE (bottom)."""

    empty_text = "Press Train to see the loss and accuracy curves of the run."
    how_to_read = (
        "The top plot shows the training loss per step (smoothed with an exponential moving "
        "average, whose weight you can set; the raw curve is drawn faintly behind it) and the "
        "validation loss per epoch (dashed, with a dot per epoch up to 100 epochs; past them a "
        "thinner dashed line, a point every few pixels, zoom in to see every epoch). The bottom "
        "plot shows accuracy for classifiers or "
        "mean absolute error for regression. Log scale helps when the loss spans orders of "
        "magnitude. Each new run in the session is drawn in a new colour and earlier runs stay "
        "drawn, thinner, with the legend above the plots naming model and dataset. Train the "
        "memory RNN and then the memory LSTM to compare them on the same task. A dashed "
        "vertical line marks a setting changed during the run, labelled with its new value (for"
        " example lr 0.001). On a log axis the labels are the decades (0.01, 0.1, 1), or 1, 2 "
        "and 5 within one decade. Curves stay smooth for runs of millions of steps."
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Loss curves", parent)
        self.runs: list[RunCurves] = []
        self._runs_started = 0
        self._smoothing_weight = 0.9

        self.smooth_box = QCheckBox("Smooth")
        self.smooth_box.setToolTip("Exponential moving average of the per-step training curve")
        self.smooth_box.setChecked(True)
        self.smooth_spin = QDoubleSpinBox(minimum=0.0, maximum=0.999, singleStep=0.05, decimals=3)
        self.smooth_spin.setValue(self._smoothing_weight)
        self.log_box = QCheckBox("Log scale")
        self.smooth_box.toggled.connect(self._smoothing_changed)
        self.smooth_spin.valueChanged.connect(self._smoothing_changed)
        self.log_box.toggled.connect(self._log_toggled)
        controls = QHBoxLayout()
        for w in (self.smooth_box, self.smooth_spin, self.log_box):
            controls.addWidget(w)
        controls.addStretch(1)

        self.graphics = PlotCanvas()
        self.loss_plot = self.graphics.addPlot(row=1, col=0)
        self.metric_plot = self.graphics.addPlot(row=2, col=0)
        self.metric_plot.setXLink(self.loss_plot)
        for plot, name in ((self.loss_plot, "loss"), (self.metric_plot, "accuracy")):
            show_grid(plot, 0.25)
            plot.setLabel("left", name)
            # pyqtgraph would label an accuracy of 0.2-0.4 "(x0.001)" with ticks 200-400.
            plot.getAxis("left").enableAutoSIPrefix(False)
            # Peak downsampling keeps spikes (a diverging step) that mean-downsampling hides.
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
        self.metric_plot.setLabel("bottom", "step")
        # Ranges that move in steps keep the axes cached; the metric plot follows the loss
        # plot's x range through the link.
        self.loss_range = StickyRange(self.loss_plot)
        self.metric_range = StickyRange(self.metric_plot, x=False)
        self.legend = legend_above(self.graphics, self.loss_plot, row=0)
        # A zoom (the metric plot follows the loss plot's x) shows the epochs in view again.
        self.loss_plot.getViewBox().sigXRangeChanged.connect(self._thin_validation)

        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)

    # ------------------------------------------------------------ events in

    def start_run(self, event: RunStarted, label: str | None = None) -> None:
        """A new run: earlier runs stay as thinner overlays, labelled by model and dataset
        (or ``label``: a run read from its folder is named by the folder)."""
        for run in self.runs:
            self._dim(run)
        colour = PALETTE[self._runs_started % len(PALETTE)]
        self._runs_started += 1
        label = label or f"run {event.run_id}: {_clip(event.model_name)} · {event.dataset_name}"
        run = RunCurves(event.run_id, label, colour)
        self.runs.append(run)
        self._make_items(run)
        while len(self.runs) > MAX_PAST_RUNS + 1:
            self._remove(self.runs.pop(0))
        self._got_data()

    def add_steps(self, steps: list[StepMetrics]) -> None:
        if not steps:
            return
        xs = np.fromiter((s.step for s in steps), dtype=np.float64, count=len(steps))
        loss = np.fromiter((s.loss for s in steps), np.float64, len(steps))
        acc = np.fromiter(
            (np.nan if s.accuracy is None else s.accuracy for s in steps), np.float64, len(steps)
        )
        if steps[0].accuracy is None:  # a regression or forecast: its metric is the MAE, which
            self._run_for(steps[0].run_id).metric_name = "MAE"  # comes at each epoch's end
        self.add_points(steps[0].run_id, xs, loss, acc)

    def add_points(
        self, run_id: int, steps: np.ndarray, loss: np.ndarray, accuracy: np.ndarray | None = None
    ) -> None:
        """Per-step training loss (and accuracy, NaN where a step has none) of a live run. The
        smoothed curve is extended here, from every point, before older points are thinned."""
        run = self._run_for(run_id)
        self._smoothed_train(run)  # catch up first, should points have come another way
        run.train_loss.extend(steps, loss)
        if len(loss):
            start = run.smoothed.y[-1] if run.smoothed.size else loss[0]
            if not np.isfinite(start):
                start = loss[0]
            run.smoothed.extend(steps, ema(loss, self._smoothing_weight, start))
        if accuracy is not None:
            has = np.isfinite(accuracy)
            if has.any():
                run.train_metric.extend(steps[has], accuracy[has])
        self._got_data()

    def add_epoch(self, event: EpochMetrics) -> None:
        run = self._run_for(event.run_id)
        run.val_loss.append(event.step, event.val_loss)
        if event.val_accuracy is not None:
            run.val_metric.append(event.step, event.val_accuracy)
        elif event.val_mae is not None:
            run.metric_name = "MAE"
            run.val_metric.append(event.step, event.val_mae)
        self._got_data()

    def add_settings_change(self, event: SettingsChanged) -> None:
        # Which sample the views show is not a training change: no marker on the loss curve.
        changes = {k: v for k, v in event.changes.items() if k != "probe_sample_index"}
        if not changes:
            return
        run = self._run_for(event.run_id)
        text = ", ".join(f"{setting_label(k)} {setting_value(v)}" for k, v in changes.items())
        # Horizontal, hanging right of the line from near the top of the view: rotated at the
        # top edge it was clipped to "lr=0.00". The x range's headroom leaves room on the right.
        line = pg.InfiniteLine(
            pos=event.step, angle=90, movable=False,
            pen=pg.mkPen(run.colour, style=pg.QtCore.Qt.PenStyle.DashLine),
            label=text, labelOpts={
                "position": 0.97, "anchors": [(0, 0), (0, 0)], "color": run.colour,
                "fill": pg.mkBrush(255, 255, 255, 200),
            },
        )  # fmt: skip
        line.setToolTip(f"step {event.step}: {text}")
        self.loss_plot.addItem(line)
        run.markers.append(line)
        self._got_data()

    def show_overlays(self, shown: list[RunCurves], removed: list[RunCurves] = ()) -> None:
        """Draw recorded runs (the Runs panel's ticked ones) thin over the live curves, each
        named by its label in the legend, and take the ``removed`` ones off. A run's curves
        are made once, when it is first shown; its series do not change after."""
        for run in removed:
            self._remove(run)
            run.items.clear()
        for run in shown:
            if not run.items:
                self._make_items(run, raw=False)  # a recorded run's raw curve is never shown
                self._dim(run)
        self._fit_overlays(shown)

    def _fit_overlays(self, shown: list[RunCurves]) -> None:
        # The live runs' bounds with the overlays', so that ticking a longer run shows it whole.
        runs = [*self.runs, *shown]
        if not runs:
            return
        self.loss_range.update(
            merge_bounds(*(r.train_loss.x_bounds for r in runs)),
            merge_bounds(*(b for r in runs for b in (r.train_loss.y_bounds, r.val_loss.y_bounds))),
        )
        self.metric_range.update(
            None,
            merge_bounds(
                *(b for r in runs for b in (r.train_metric.y_bounds, r.val_metric.y_bounds))
            ),
        )
        self._got_data()

    # ------------------------------------------------------------ painting

    def paint(self) -> None:
        if not self.runs:
            return
        live = self.runs[-1]
        self._set_curves(live)
        live.items["raw_loss"].setData(live.train_loss.x, live.train_loss.y)
        live.items["raw_loss"].setVisible(self.smooth_box.isChecked())
        if self.metric_plot.getAxis("left").labelText != live.metric_name:
            # setLabel re-lays the axis out and resets its HTML: only when the name changes.
            self.metric_plot.setLabel("left", live.metric_name)
        self._follow_data()
        last = live.train_loss.y[-1] if live.train_loss.size else float("nan")
        self.caption.setText(f"{live.label} — {live.train_loss.size} steps, loss {last:.4g}")

    def _follow_data(self) -> None:
        """Every run stays in view. The raw training loss bounds the smoothed one, so its
        bounds serve for both (the raw curve is drawn, faintly, when smoothing is on)."""
        x = merge_bounds(*(run.train_loss.x_bounds for run in self.runs))
        self.loss_range.update(
            x,
            merge_bounds(
                *(b for r in self.runs for b in (r.train_loss.y_bounds, r.val_loss.y_bounds))
            ),
        )
        self.metric_range.update(
            x,
            merge_bounds(
                *(b for r in self.runs for b in (r.train_metric.y_bounds, r.val_metric.y_bounds))
            ),
        )

    def _set_curves(self, run: RunCurves) -> None:
        smooth = self.smooth_box.isChecked()
        shown = self._smoothed_train(run) if smooth else run.train_loss
        # Peak downsampling keeps a raw curve's spikes (the raw one drawn faintly behind keeps
        # them when smoothing is on); the smoothed curve takes the mean, one point a pixel
        # column: its peaks drew a 2 px zigzag down every column, ~3.7 ms a frame for 2,000
        # steps a second (the moons MLP at 1920×1080).
        item = run.items["train_loss"]
        method = "mean" if smooth else "peak"
        if item.opts["downsampleMethod"] != method:
            item.setDownsampling(auto=True, method=method)
        item.setData(shown.x, shown.y)
        dot_when_lone(item, shown.size, run.colour)  # a run's first step, until its second
        dot_when_lone(run.items["train_metric"], run.train_metric.size, run.colour)
        run.items["val_loss"].setData(run.val_loss.x, run.val_loss.y)
        run.items["train_metric"].setData(run.train_metric.x, run.train_metric.y)
        run.items["val_metric"].setData(run.val_metric.x, run.val_metric.y)
        # A dot per epoch while they can be told apart; past that the dashed line alone (the
        # moons MLP ends 60 epochs a second, and thousands of symbols were redrawn each frame).
        symbol = "o" if run.val_loss.size <= MAX_EPOCH_DOTS else None
        for key in ("val_loss", "val_metric"):
            if run.items[key].opts["symbol"] != symbol:
                run.items[key].setSymbol(symbol)
                run.items[key].setPen(validation_pen(run.colour, dots=symbol is not None))
        self._thin_validation(runs=(run,))

    def _thin_validation(self, *_, runs: tuple[RunCurves, ...] | None = None) -> None:
        for run in self.runs if runs is None else runs:
            dots = run.items["val_loss"].opts["symbol"] is not None
            _thin_dashed(run.items["val_loss"], run.val_loss, self.loss_plot, dots=dots)
            _thin_dashed(run.items["val_metric"], run.val_metric, self.metric_plot, dots=dots)

    def _smoothed_train(self, run: RunCurves) -> GrowableSeries:
        """The EMA of the training loss. A live run's grows as points arrive (add_points);
        a recorded run's, or one whose weight changed, is computed from the points kept."""
        if run.smoothed.total != run.train_loss.total:
            y = run.train_loss.y
            run.smoothed = GrowableSeries(max(1, len(y)))
            if len(y):
                start = y[0] if np.isfinite(y[0]) else 0.0
                run.smoothed.extend(run.train_loss.x, ema(y, self._smoothing_weight, start))
                run.smoothed.total = run.train_loss.total
        return run.smoothed

    # ------------------------------------------------------------ helpers

    def _make_items(self, run: RunCurves, raw: bool = True) -> None:
        c = run.colour
        if raw:
            # Faint, and opaque: the run's colour at a quarter on the white background, under
            # every other curve. Drawn at alpha 0x40, its peak-downsampled band (a segment down
            # each pixel column) is blended pixel by pixel: ~3 times the cost (4.2 ms against
            # 1.5 for a 700-column band, offscreen).
            raw_loss = self.loss_plot.plot(pen=pg.mkPen(faint(c), width=1))
            raw_loss.setZValue(-1)
            run.items["raw_loss"] = raw_loss
        run.items["train_loss"] = self.loss_plot.plot(pen=pg.mkPen(c, width=2), name=run.label)
        run.items["val_loss"] = self.loss_plot.plot(
            pen=validation_pen(c, dots=True),
            symbol="o", symbolSize=6, symbolBrush=c, symbolPen=None,
        )  # fmt: skip
        run.items["train_metric"] = self.metric_plot.plot(pen=pg.mkPen(c, width=1))
        run.items["val_metric"] = self.metric_plot.plot(
            pen=validation_pen(c, dots=True),
            symbol="o", symbolSize=6, symbolBrush=c, symbolPen=None,
        )  # fmt: skip
        for item in run.items.values():
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)

    def _dim(self, run: RunCurves) -> None:
        """A finished run stays drawn, thinner, so the next one can be compared against it."""
        self._set_curves(run)
        run.items["train_loss"].setPen(pg.mkPen(run.colour, width=1))
        if "raw_loss" in run.items:
            run.items["raw_loss"].setVisible(False)

    def _remove(self, run: RunCurves) -> None:
        for item in run.items.values():
            for plot in (self.loss_plot, self.metric_plot):
                if item in plot.listDataItems():
                    plot.removeItem(item)
        for line in run.markers:
            self.loss_plot.removeItem(line)

    def _run_for(self, run_id: int) -> RunCurves:
        for run in reversed(self.runs):
            if run.run_id == run_id:
                return run
        # Metrics before (or without) RunStarted: open an anonymous run rather than drop them.
        self.start_run(RunStarted(run_id, "model", "data", "cpu", 0, 0, {}))
        return self.runs[-1]

    def _smoothing_changed(self) -> None:
        self._smoothing_weight = float(self.smooth_spin.value())
        for run in self.runs:  # recomputed from the points kept (at most MAX_SERIES_POINTS)
            run.smoothed = GrowableSeries()
            run.smoothed.total = -1
            self._set_curves(run)
        self.mark_dirty()

    def _log_toggled(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self.loss_range.reset()
        self.mark_dirty()

    # ------------------------------------------------------------ export

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        """Every run's series as kept, long format: run, series, step, value (a long run's
        older steps thinned to their peaks; the run folder's metrics.csv has every step)."""
        rows = []
        for run in self.runs:
            for name in ("train_loss", "val_loss", "train_metric", "val_metric"):
                series: GrowableSeries = getattr(run, name)
                label = name.replace("metric", run.metric_name.lower())
                rows.extend(
                    (run.label, label, int(x), y) for x, y in zip(series.x, series.y, strict=True)
                )
        write_csv(path, ["run", "series", "step", "value"], rows)


def faint(colour: str, share: float = 0.25) -> str:
    """``colour`` ("#rrggbb") at ``share`` over white, as an opaque colour."""
    rgb = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(share * v + (1 - share) * 255):02x}" for v in rgb)


def _clip(text: str, length: int = 28) -> str:
    """Model names can be sentences; a legend entry must not cover the curves."""
    return text if len(text) <= length else text[: length - 1] + "…"


# Short names for a marker's label: "clip 1" reads at a glance where "grad_clip=1.0" did not.
_SETTING_LABELS = {"grad_clip": "clip", "weight_decay": "weight decay"}


def setting_label(key: str) -> str:
    """A live setting's name on a marker and in the panel's message."""
    return _SETTING_LABELS.get(key, key)


def setting_value(value) -> str:
    """A setting's value for a marker: 3 significant digits, so lr 0.0005 is not "0.00";
    None (a clip switched off) reads "off"."""
    if value is None:
        return "off"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def validation_pen(colour, *, dots: bool):
    """The dashed pen of a run's validation curves: 2 px while each epoch has its dot, 1 px
    past them (see DASHED_PX_PER_POINT)."""
    return pg.mkPen(colour, width=2 if dots else 1, style=pg.QtCore.Qt.PenStyle.DashLine)


def _thin_dashed(item: pg.PlotDataItem, series: GrowableSeries, plot, *, dots: bool) -> None:
    """Downsample a dashed validation curve to about a point every DASHED_PX_PER_POINT pixels
    of the plot (the epochs in view, so a zoom shows them all again); every epoch while
    their dots are drawn."""
    ds, box = 1, plot.getViewBox()
    if not dots and series.size and box.width() >= 1:
        lo, hi = box.viewRange()[0]
        x = series.x
        shown = int(np.searchsorted(x, hi, "right") - np.searchsorted(x, lo, "left"))
        room = max(1.0, box.width() / DASHED_PX_PER_POINT)
        ds = max(1, int(np.ceil(2 * shown / room)))  # peak: two points a bucket
    if item.opts["downsample"] != ds or item.opts["autoDownsample"] != (ds == 1):
        # Every epoch in view: pyqtgraph's own choice again, as the view's other curves have.
        item.setDownsampling(ds=ds, auto=ds == 1, method="peak")
