"""Gates of a recurrent block on one sequence: a time × unit heatmap per gate and state.

The input sequence is drawn above on the same (linked) time axis, so "the forget gate closed at
t = 12" can be read against what the input did at t = 12. Sigmoid gates use a sequential scale
fixed at [0, 1] (0 = closed, 1 = open); tanh values and states use a diverging scale centred on
zero, fixed at ±1 where the function bounds them and symmetric around the data otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.probes.snapshots import RecurrentTrace
from gui.training.views.base import (
    PALETTE,
    SAMPLE_KIND,
    ElidedLabel,
    LiveView,
    write_csv,
)
from gui.training.views.plots import (
    PlotCanvas,
    cache_axes,
    configure_image_item,
    diverging_colormap,
    sequential_colormap,
    show_grid,
)

_BAR_FONT = QFont()
_BAR_FONT.setPointSize(7)  # a colour bar is as tall as a heatmap row: small tick text
MAX_INPUT_CURVES = 8  # more input features than this read as noise; the first ones are drawn
_SIGMOID = {"input", "forget", "output", "reset", "update"}
_TANH = {"candidate"}
_LABELS = {"input": "input gate", "forget": "forget gate", "output": "output gate",
           "reset": "reset gate", "update": "update gate", "candidate": "candidate",
           "cell": "cell state", "hidden": "hidden state"}  # fmt: skip


def gate_levels(name: str, mode: str, values: np.ndarray) -> tuple[tuple[float, float], bool]:
    """(levels, diverging?) for one gate: bounded functions keep their fixed range."""
    if name in _SIGMOID:
        return (0.0, 1.0), False
    if name in _TANH or (name == "hidden" and mode in ("LSTM", "GRU", "RNN_TANH")):
        return (-1.0, 1.0), True
    peak = float(np.nanmax(np.abs(values))) if values.size else 1.0
    peak = peak if math.isfinite(peak) and peak > 0 else 1.0
    if mode == "RNN_RELU":
        return (0.0, peak), False
    return (-peak, peak), True


# Far below float32's limit, so that (value - level) and the colour scale stay finite too.
_DRAWABLE_PEAK = 1e30


def drawable(values: np.ndarray) -> np.ndarray:
    """Values the painter can draw: the states of an exploding ReLU RNN overflow to inf and
    NaN (at the first step of README's exploding_rnn without clipping), which crashed the whole
    window in pyqtgraph's image painting. Overflowed values are drawn at the largest finite
    magnitude, in their sign; NaN as 0."""
    if np.isfinite(values).all() and (values.size == 0 or np.abs(values).max() <= _DRAWABLE_PEAK):
        return values
    finite = np.isfinite(values)
    peak = float(np.abs(values[finite]).max()) if finite.any() else 1.0
    peak = min(peak, _DRAWABLE_PEAK)
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=peak, neginf=-peak), -peak, peak)


def _label_ends(bar: pg.ColorBarItem, levels: tuple[float, float]) -> None:
    lo, hi = levels
    bar.getAxis("right").setTicks([[(lo, f"{lo:.3g}"), (hi, f"{hi:.3g}")], []])


class GateHeatmapView(LiveView):
    empty_text = "Train a model with an LSTM, GRU or RNN block to see its gates over time."
    how_to_read = (
        "For the probe sequence there is one heatmap per gate: time runs left"
        " to right and units run bottom to top. The input sequence is plotted above on the same"
        " time axis. The colour bar beside each heatmap gives its value range. Hover over a "
        "heatmap to read the exact value at (t, unit).\n• Forget gate (0 to 1; yellow = 1 = "
        "keep): an LSTM that has to remember the first symbol of a long sequence learns to hold"
        " it near 1 for the units that store that symbol. The cell state then stays constant "
        "along the row, which is the memory the gate protects.\n• Input gate and candidate: "
        "when new information is written into the cell, and what is written. For “remember the "
        "first symbol” these are active at t = 0 and quiet afterwards.\n• Output gate and "
        "hidden state: how much of the cell each unit shows to the next layer at each step.\n• "
        "A GRU shows reset, update, candidate and hidden; a plain RNN has only its hidden "
        "state, which has nowhere to keep information except that state itself."
    )

    focus_missing = "no gates (only LSTM, GRU and RNN blocks have them)"

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Gates", parent)
        self._traces: dict[str, RecurrentTrace] = {}
        # The newest gates snapshot and probe sequence: either may come first, and a new
        # sequence redraws the traces above it.
        self._latest: tuple[RecurrentTrace, ...] = ()
        self._sequence: np.ndarray | None = None
        self._sequences: dict[str, np.ndarray] = {}
        self.gate_plots: dict[str, tuple[pg.PlotItem, pg.ImageItem]] = {}
        # Each heatmap's colour scale with its value range, beside it in a third column.
        self.colour_bars: dict[str, pg.ColorBarItem] = {}
        self.input_curves: list[pg.PlotDataItem] = []
        self._layout_key: tuple = ()
        self.heatmaps: dict[str, np.ndarray] = {}  # gate -> (T, units), as last painted

        self.block_combo = QComboBox()
        self.layer_combo = QComboBox()
        for combo in (self.block_combo, self.layer_combo):
            combo.currentIndexChanged.connect(lambda _i: self.mark_dirty())
        self.block_combo.currentIndexChanged.connect(self._refill_layers)
        # Ends in "…" where the view is narrow (1280×800), the whole text in its tooltip.
        self.hover_label = ElidedLabel("Hover over a heatmap to read a value.")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Block"))
        controls.addWidget(self.block_combo)
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_combo)
        controls.addWidget(self.hover_label, 1)

        self.graphics = PlotCanvas()
        # Seven stacked plots share a dock: names go in a column of horizontal labels on the
        # left, only the bottom plot has a time axis, and the layout has no spacing.
        self.graphics.ci.layout.setSpacing(0)
        # Room between rows for the end labels of two colour bars, one above the other.
        self.graphics.ci.layout.setVerticalSpacing(8)
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self._row_labels: list[pg.LabelItem] = []
        self.graphics.addLabel("input", row=0, col=0, angle=0, size="8pt", justify="right")
        self.input_plot = self.graphics.addPlot(row=0, col=1)
        show_grid(self.input_plot, 0.2)
        self.input_plot.hideAxis("bottom")
        self.input_plot.getAxis("left").setWidth(28)
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)

        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)

    # ------------------------------------------------------------ data in

    def set_trace(self, trace: RecurrentTrace, sequence: np.ndarray | None = None) -> None:
        """A block's trace on the probe sequence (T, features), which is drawn above."""
        self._traces[trace.block_id] = trace
        if sequence is not None:
            self._sequences[trace.block_id] = np.asarray(sequence, np.float32)
        if self.block_combo.findText(trace.block_id) < 0:
            self.block_combo.addItem(trace.block_id)
        self._refill_layers()
        self._got_data()

    def set_traces(
        self, traces: Sequence[RecurrentTrace], sequence: np.ndarray | None = None
    ) -> None:
        for trace in traces:
            self.set_trace(trace, sequence)

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "gates":
            data = snapshot.data
            self._latest = tuple(data) if isinstance(data, tuple | list) else (data,)
            self.set_traces(self._latest, self._sequence)
        elif snapshot.kind == SAMPLE_KIND:  # a sequence sample is drawn above the gates
            if np.ndim(snapshot.data.x) == 2:
                self._sequence = snapshot.data.x
                self.set_traces(self._latest, self._sequence)
        else:
            super().take_snapshot(snapshot)

    def forget(self) -> None:
        self._latest, self._sequence = (), None
        self._traces.clear()
        self._sequences.clear()
        self.heatmaps = {}
        self.block_combo.clear()
        self.layer_combo.clear()

    def _refill_layers(self) -> None:
        trace = self.current_trace
        if trace is None:
            return
        names = [f"{t.layer + 1} {'←' if t.direction else '→'}" for t in trace.layers]
        if names != [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())]:
            index = self.layer_combo.currentIndex()
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(names)
            # The last layer feeds the head, so it is the interesting default.
            self.layer_combo.setCurrentIndex(index if 0 <= index < len(names) else len(names) - 1)
            self.layer_combo.blockSignals(False)

    def show_layer(self, block_id: str | None) -> bool:
        """That recurrent block's gates, picked in Block as if the user had."""
        if block_id not in self._traces:
            return False
        self.block_combo.setCurrentText(block_id)
        return True

    def shown_layer(self) -> str:
        return self.block_combo.currentText()

    @property
    def current_trace(self) -> RecurrentTrace | None:
        return self._traces.get(self.block_combo.currentText())

    # ------------------------------------------------------------ painting

    def paint(self) -> None:
        trace = self.current_trace
        if trace is None or not trace.layers:
            return
        layer = trace.layers[max(0, self.layer_combo.currentIndex())]
        names = tuple(layer.gates)
        if (trace.mode, names) != self._layout_key:
            self._rebuild(trace.mode, names)
        self.heatmaps = {}
        for name, values in layer.gates.items():
            values = drawable(np.asarray(values, np.float32))
            self.heatmaps[name] = values
            plot, item = self.gate_plots[name]
            levels, _ = gate_levels(name, trace.mode, values)
            # (T, units) -> rows = units, columns = time, so x is t and y is the unit.
            item.setImage(np.ascontiguousarray(values.T), levels=levels, autoLevels=False)
            bar = self.colour_bars[name]
            if bar.levels() != levels:  # redraws the bar's axis: only when the range moves
                bar.setLevels(levels)
                _label_ends(bar, levels)
        self._paint_input(trace.block_id)
        steps, units = next(iter(self.heatmaps.values())).shape
        direction = "reverse" if layer.direction else "forward"
        self.caption.setText(
            f"{trace.block_id} ({trace.mode}), layer {layer.layer + 1} {direction}:"
            f" {steps} steps × {units} units"
        )

    def _paint_input(self, block_id: str) -> None:
        seq = self._sequences.get(block_id)
        if seq is None:
            for curve in self.input_curves:
                curve.setData([], [])
            return
        seq = seq.reshape(len(seq), -1)[:, :MAX_INPUT_CURVES]
        while len(self.input_curves) < seq.shape[1]:
            colour = PALETTE[len(self.input_curves) % len(PALETTE)]
            self.input_curves.append(self.input_plot.plot(pen=pg.mkPen(colour, width=2)))
        # Centred on each step (t + 0.5) so a point sits over the middle of its heatmap column.
        t = np.arange(len(seq)) + 0.5
        for i, curve in enumerate(self.input_curves):
            if i < seq.shape[1]:
                curve.setData(t, seq[:, i], symbol="o", symbolSize=4)
            else:
                curve.setData([], [])

    def _rebuild(self, mode: str, names: tuple[str, ...]) -> None:
        for plot, _ in self.gate_plots.values():
            self.graphics.removeItem(plot)
        for item in (*self._row_labels, *self.colour_bars.values()):
            self.graphics.removeItem(item)
        self.colour_bars.clear()
        self.gate_plots.clear()
        self._row_labels = []
        for row, name in enumerate(names, start=1):
            label = self.graphics.addLabel(
                _LABELS.get(name, name), row=row, col=0, angle=0, size="8pt", justify="right"
            )
            self._row_labels.append(label)
            plot = self.graphics.addPlot(row=row, col=1)
            plot.hideAxis("bottom")
            plot.getAxis("left").setWidth(28)  # same width in every row keeps the t axes aligned
            plot.getAxis("left").setStyle(showValues=False)  # unit numbers: the hover says them
            plot.setXLink(self.input_plot)
            plot.setMouseEnabled(y=False)
            item = configure_image_item(pg.ImageItem())
            levels, diverging = gate_levels(name, mode, np.zeros(0))
            colours = diverging_colormap() if diverging else sequential_colormap()
            item.setColorMap(colours)
            plot.addItem(item)
            self.gate_plots[name] = (plot, item)
            bar = pg.ColorBarItem(values=levels, colorMap=colours, interactive=False, width=10)
            cache_axes(bar)  # a bar changes only with its range: a pixmap between changes
            # As short as a heatmap row: the scale's two ends are labelled, in small text.
            bar.setMinimumHeight(0)
            bar.getAxis("right").setMinimumHeight(0)
            bar.getAxis("right").setStyle(tickFont=_BAR_FONT, tickTextOffset=2)
            _label_ends(bar, levels)
            self.graphics.addItem(bar, row=row, col=2)
            self.colour_bars[name] = bar
        if names:
            last = self.gate_plots[names[-1]][0]
            last.showAxis("bottom")
            last.setLabel("bottom", "time step t")
            # The last row also holds the time axis: the bar stops where the heatmap does.
            axis_height = last.getAxis("bottom").maximumHeight()
            self.colour_bars[names[-1]].setContentsMargins(0, 0, 0, axis_height)
            # Equal rows would leave the last heatmap that much shorter than the others.
            layout = self.graphics.ci.layout
            for row in range(1, len(names) + 1):
                layout.setRowStretchFactor(row, 100)
            layout.setRowStretchFactor(len(names), 100 + int(axis_height))
        self._layout_key = (mode, names)

    # ------------------------------------------------------------ hover

    def value_at(self, gate: str, t: int, unit: int) -> float | None:
        values = self.heatmaps.get(gate)
        if values is None or not (0 <= t < values.shape[0] and 0 <= unit < values.shape[1]):
            return None
        return float(values[t, unit])

    def _mouse_moved(self, pos: QPointF) -> None:
        for name, (plot, _) in self.gate_plots.items():
            if not plot.vb.sceneBoundingRect().contains(pos):
                continue
            point = plot.vb.mapSceneToView(pos)
            t, unit = math.floor(point.x()), math.floor(point.y())
            value = self.value_at(name, t, unit)
            if value is not None:
                text = f"{_LABELS.get(name, name)}: t = {t}, unit {unit} → {value:.4f}"
                self.hover_label.setText(text)
                self.graphics.setToolTip(text)
            return

    # ------------------------------------------------------------ export

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        self.repaint_now()
        rows = []
        for name, values in self.heatmaps.items():
            for t in range(values.shape[0]):
                rows.extend((name, t, u, float(values[t, u])) for u in range(values.shape[1]))
        write_csv(path, ["gate", "t", "unit", "value"], rows)
