"""Gradient flow: per-layer gradient norms over training, and ||dL/dh_t|| through time.

Both on log y axes, because the point is a ratio: a plain RNN's dL/dh_t falls by orders of
magnitude from the last step back to the first (the vanishing gradient), an LSTM's stays
within one or two. The previous run's through-time curves stay drawn (dashed) so an RNN run and
an LSTM run on the same task can be read side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.probes.snapshots import TimeGradient
from gui.training.views.base import (
    PALETTE,
    LiveView,
    StickyRange,
    bounds_of,
    merge_bounds,
    write_csv,
)
from gui.training.views.curves import GrowableSeries
from gui.training.views.plots import (
    PlotCanvas,
    ReadableAxis,
    cache_axes,
    dot_when_lone,
    legend_above,
    show_grid,
)


def positive(values: np.ndarray) -> np.ndarray:
    """Zeros and negatives as NaN: a log axis cannot show them and must not warn about them."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[~(out > 0)] = np.nan
    return out


class GradientFlowView(LiveView):
    empty_text = ("Train a model to see how large its gradients are, layer by layer, and — for "
                  "RNN, GRU and LSTM blocks — step by step back through time.")  # fmt: skip
    how_to_read = (
        "The top plot shows the gradient norm of each layer over training, on a log scale. "
        "Layers whose gradients fall to ~0 have stopped learning, and spikes come before "
        "divergence. Through many tanh or sigmoid layers the curves fan out by orders of "
        "magnitude, the first layers lowest: on its way back each layer multiplies the gradient "
        "by its weights and by its activation's slope (at most 1 for tanh, ¼ for sigmoid), so it "
        "shrinks layer by layer, the vanishing gradient through depth. In a residual network the "
        "curves stay together: a residual block adds its input to its output, and that identity "
        "path hands the gradient back unchanged (the blocks inside a residual block have curves "
        "of their own). The bottom plot, for recurrent blocks, shows ‖∂L/∂h_t‖: how much the "
        "loss's gradient reaches the hidden state at each time step t. This is the vanishing "
        "gradient made visible. In a plain RNN the curve falls by orders of magnitude from the "
        "last step back towards t = 0, so the early inputs get almost no learning signal and "
        "the RNN cannot learn to remember them. The caption gives the ratio ‖∂L/∂h_0‖ / "
        "‖∂L/∂h_T‖. The previous run's curve stays drawn (grey, dashed), so an RNN run followed"
        " by an LSTM run on the same task shows the two side by side. Note that the plot "
        "measures the gradient with respect to the hidden state h_t. An LSTM carries its long-"
        "range signal mainly along the cell state c_t (through the forget gate), so read its "
        "curve together with the Gates view: a forget gate held near 1 is the path the gradient"
        " takes, even where ‖∂L/∂h_t‖ itself is small."
        " The opposite is the exploding gradient: a curve that rises towards t = 0 (the "
        "exploding_rnn example, a ReLU RNN whose recurrent matrix stretches its state) means "
        "each step back multiplies the gradient by more than 1, and one update can throw the "
        "weights so far that the loss jumps or becomes NaN. Gradient clipping (in the Training "
        "panel) scales a gradient whose norm is above the limit down to it, keeping its "
        "direction: every step stays bounded while the network learns weights that no longer "
        "explode, and the curve flattens."
    )

    focus_missing = "no gradient norm (it has no parameters)"
    # Above this many layers a legend of every layer filled the plot (a 26-layer network left
    # its curves a thin strip): the legend gives way to a plot of the norm by depth, and the
    # curves are coloured from the first layer (dark) to the last (light).
    DEEP_LAYERS = 8

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Gradient flow", parent)
        self.highlighted: str | None = None  # the selected block's curves stand out
        self._highlight_drawn: tuple | None = None  # (block, curves) as last styled
        self.layer_series: dict[str, GrowableSeries] = {}
        self.layer_curves: dict[str, pg.PlotDataItem] = {}
        self.time_gradients: dict[str, TimeGradient] = {}
        self._time_curves: dict[str, pg.PlotDataItem] = {}
        self._previous: list[pg.PlotDataItem] = []
        self.previous_time_gradients: dict[str, np.ndarray] = {}
        self._run_label = ""
        self._recorded_names: list[str] = []  # show_recorded_runs's curves among _previous

        self.graphics = PlotCanvas()
        # Each plot's legend sits in the row above it, in columns: a legend of every layer on
        # top of the plot hid its curves.
        self.layer_plot = self.graphics.addPlot(row=1, col=0, title="gradient norm per layer")
        self.layer_legend = legend_above(self.graphics, self.layer_plot, row=0, columns=4)
        self.layer_plot.setLabel("bottom", "step")
        self.layer_plot.setLabel("left", "‖∂L/∂θ‖")
        self.time_plot = self.graphics.addPlot(row=3, col=0, title="gradient through time")
        self.time_legend = legend_above(self.graphics, self.time_plot, row=2)
        self.time_plot.setLabel("bottom", "time step t")
        self.time_plot.setLabel("left", "‖∂L/∂h_t‖")
        for plot in (self.layer_plot, self.time_plot):
            plot.getAxis("left").enableAutoSIPrefix(False)  # "(x0.001)" on a log axis misleads
            plot.setLogMode(y=True)
            show_grid(plot, 0.25)
        # Added to the canvas only for a deep network, so made here with the canvas's axes.
        self.depth_plot = pg.PlotItem(
            title="gradient norm by depth, newest step",
            axisItems={"left": ReadableAxis("left"), "bottom": ReadableAxis("bottom")},
        )
        cache_axes(self.depth_plot)
        self.depth_plot.setLabel("bottom", "layer, input → output")
        self.depth_plot.setLabel("left", "‖∂L/∂θ‖")
        self.depth_plot.getAxis("left").enableAutoSIPrefix(False)
        self.depth_plot.setLogMode(y=True)
        show_grid(self.depth_plot, 0.25)
        self.depth_curve = self.depth_plot.plot(
            pen=pg.mkPen(PALETTE[0], width=2), symbol="o", symbolSize=6
        )
        self.deep = False  # the depth plot is shown in the legend's place
        self._time_plot_shown = True
        self._show_time_plot(False)  # until a recurrent block reports: a CNN has no time axis
        self.layer_plot.setDownsampling(auto=True, mode="peak")
        self.layer_plot.setClipToView(True)
        self.layer_range = StickyRange(self.layer_plot)
        self.time_range = StickyRange(self.time_plot, x_headroom=0.0)  # t = 0 .. T-1

        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)

    # ------------------------------------------------------------ data in

    def new_run(self, label: str) -> None:
        """Keep the finished run's through-time curves as the comparison; reset the rest."""
        if self.time_gradients:
            for curve in self._previous:
                self.time_plot.removeItem(curve)
            self._previous = []
            self.previous_time_gradients = {}
            for block_id, tg in self.time_gradients.items():
                values = positive(tg.grad_norm)
                name = f"{self._run_label or 'previous run'} · {block_id}"
                curve = self.time_plot.plot(
                    np.arange(len(values)), values, name=name, connect="finite",
                    pen=pg.mkPen("#888", width=2, style=Qt.PenStyle.DashLine),
                )  # fmt: skip
                self._previous.append(curve)
                self.previous_time_gradients[name] = values
        for curve in self._time_curves.values():
            self.time_plot.removeItem(curve)
        for curve in self.layer_curves.values():
            self.layer_plot.removeItem(curve)
        self.time_legend.clear()
        for curve in self._previous:
            self.time_legend.addItem(curve, curve.name())
        self.layer_legend.clear()
        self._time_curves.clear()
        self.layer_curves.clear()
        self.layer_series.clear()
        self.depth_curve.setData([], [])
        self.time_gradients.clear()
        self._run_label = label

    def add_layer_gradients(self, step: int, norms: Mapping[str, float]) -> None:
        for name, value in norms.items():
            self.layer_series.setdefault(name, GrowableSeries(256)).append(step, float(value))
        if norms:
            self._got_data()

    def set_time_gradients(self, gradients: TimeGradient | Sequence[TimeGradient]) -> None:
        items = (gradients,) if isinstance(gradients, TimeGradient) else tuple(gradients)
        for tg in items:
            self.time_gradients[tg.block_id] = tg
        if items:
            self._got_data()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "layer_gradients":
            self.add_layer_gradients(snapshot.step, snapshot.data)
        elif snapshot.kind == "time_gradients":
            self.set_time_gradients(snapshot.data)
        else:
            super().take_snapshot(snapshot)

    def show_recorded_runs(
        self, runs: Sequence[tuple[str, str, Mapping[str, np.ndarray]]]
    ) -> list[str]:
        """Draw recorded runs' saved ‖∂L/∂h_t‖ thin over the through-time plot: each entry is
        (label, colour, {block id: values}), drawn as "label · block id" in the colour its
        curves have on the Loss curves view. Replaces the recorded runs shown before; they
        join the comparison curves, so a new run's start takes them off like those. Returns
        the names drawn."""
        removed = self._remove_recorded()
        names = []
        for label, colour, gradients in runs:
            for block_id, grad_norm in gradients.items():
                values = positive(grad_norm)
                name = f"{label} · {block_id}"
                curve = self.time_plot.plot(
                    np.arange(len(values)), values, name=name, connect="finite",
                    pen=pg.mkPen(colour, width=1),
                )  # fmt: skip
                curve.setToolTip(f"{name} (recorded run)")
                self._previous.append(curve)
                self.previous_time_gradients[name] = values
                self._recorded_names.append(name)
                names.append(name)
        if names:
            self._got_data()
        elif removed:
            self.mark_dirty()  # an empty view stays empty: nothing recorded was ever drawn
        return names

    def _remove_recorded(self) -> bool:
        kept = []
        for curve in self._previous:
            if curve.name() in self._recorded_names:
                self.time_plot.removeItem(curve)
                self.previous_time_gradients.pop(curve.name(), None)
            else:
                kept.append(curve)
        removed = len(kept) < len(self._previous)
        self._previous = kept
        self._recorded_names = []
        return removed

    # ------------------------------------------------------------ painting

    def paint(self) -> None:
        self._show_depth(len(self.layer_series) > self.DEEP_LAYERS)
        for index, (name, series) in enumerate(self.layer_series.items()):
            curve = self.layer_curves.get(name)
            if curve is None:
                # Width 1: Qt's fast path; a 2-px pen costs ~1.4 ms more per curve and frame.
                pen = pg.mkPen(self._colour(index), width=1)
                curve = self.layer_plot.plot(pen=pen, name=name, connect="finite")
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                self.layer_curves[name] = curve
            dot_when_lone(curve, series.size, self._colour(index))
            curve.setData(series.x, positive(series.y))
        for index, (block_id, tg) in enumerate(self.time_gradients.items()):
            curve = self._time_curves.get(block_id)
            if curve is None:
                pen = pg.mkPen(PALETTE[(index + 1) % len(PALETTE)], width=3)
                name = f"{self._run_label} · {block_id}" if self._run_label else block_id
                curve = self.time_plot.plot(
                    pen=pen, name=name, connect="finite", symbol="o", symbolSize=4
                )
                self._time_curves[block_id] = curve
            values = positive(tg.grad_norm)
            curve.setData(np.arange(len(values)), values)
        self._style_highlight()
        self._show_time_plot(bool(self.time_gradients or self._previous))
        series = self.layer_series.values()
        self.layer_range.update(
            merge_bounds(*(s.x_bounds for s in series)), merge_bounds(*(s.y_bounds for s in series))
        )
        through_time = [tg.grad_norm for tg in self.time_gradients.values()]
        through_time += list(self.previous_time_gradients.values())
        self.time_range.update(
            bounds_of(*(np.arange(len(g)) for g in through_time)), bounds_of(*through_time)
        )
        if self.deep:
            self._paint_depth()
        self.caption.setText(self._ratio_text())

    def show_layer(self, block_id: str | None) -> bool:
        """That block's curves drawn thick and the others faded; None: all alike again."""
        if block_id is not None and not (
            block_id in self.layer_series or block_id in self.time_gradients
        ):
            return False
        self.highlighted = block_id
        return True

    def shown_layer(self) -> str:
        return self.highlighted or ""

    def _style_highlight(self) -> None:
        # setPen redraws a curve: only when the highlight or the set of curves changed.
        key = (self.highlighted, tuple(self.layer_curves), tuple(self._time_curves))
        if key == self._highlight_drawn:
            return
        self._highlight_drawn = key
        # A block of another run's model that is not drawn here highlights nothing.
        drawn = self.highlighted in self.layer_curves or self.highlighted in self._time_curves
        focus = self.highlighted if drawn else None
        for index, (name, curve) in enumerate(self.layer_curves.items()):
            curve.setPen(self._pen(index, name, focus, 1, 3))
        for index, (name, curve) in enumerate(self._time_curves.items()):
            curve.setPen(self._pen(index + 1, name, focus, 3, 4))

    def _colour(self, index: int) -> pg.QtGui.QColor:
        """A layer's colour: the palette's, or, in a deep network, by depth (viridis)."""
        count = len(self.layer_series)
        if count > self.DEEP_LAYERS:
            return pg.colormap.get("viridis").map(index / max(1, count - 1), mode="qcolor")
        return pg.mkColor(PALETTE[index % len(PALETTE)])

    def _show_depth(self, deep: bool) -> None:
        if deep == self.deep:
            return
        self.deep = deep
        self._highlight_drawn = None  # colours change with the mode
        if deep:
            self.graphics.removeItem(self.layer_legend)
            self.graphics.addItem(self.depth_plot, row=0, col=0)
        else:
            self.graphics.removeItem(self.depth_plot)
            self.graphics.addItem(self.layer_legend, row=0, col=0)

    def _paint_depth(self) -> None:
        names = list(self.layer_series)
        newest = np.array([s.y[-1] if len(s.y) else np.nan for s in self.layer_series.values()])
        x = np.arange(1, len(names) + 1)
        self.depth_curve.setData(x, positive(newest))
        every = max(1, int(np.ceil(len(names) / 6)))  # a few names, not a crowd
        ticks = [(i + 1, names[i]) for i in range(0, len(names), every)]
        self.depth_plot.getAxis("bottom").setTicks([ticks, []])

    def depth_ratio(self) -> float | None:
        """The first layer's newest gradient norm over the last layer's (the vanishing gradient
        through depth in one number), or None without both."""
        series = list(self.layer_series.values())
        if len(series) < 2 or not len(series[0].y) or not len(series[-1].y):
            return None
        first, last = float(series[0].y[-1]), float(series[-1].y[-1])
        return first / last if last > 0 and np.isfinite(first) else None

    def _pen(self, index: int, name: str, focus: str | None, width: int, focus_width: int):
        colour = self._colour(index)
        if focus is None:
            return pg.mkPen(colour, width=width)
        if name == focus:
            return pg.mkPen(colour, width=focus_width)
        colour.setAlpha(70)  # the other layers stay readable as context
        return pg.mkPen(colour, width=1)

    def is_highlighted(self, name: str) -> bool:
        """Whether ``name``'s curve is drawn as the selected one (thick, the others faded)."""
        curve = self.layer_curves.get(name) or self._time_curves.get(name)
        return curve is not None and curve.opts["pen"].width() > 2 and self.highlighted == name

    def _show_time_plot(self, show: bool) -> None:
        if show == self._time_plot_shown:
            return
        self._time_plot_shown = show
        if show:
            self.graphics.addItem(self.time_legend, row=2, col=0)
            self.graphics.addItem(self.time_plot, row=3, col=0)
        else:
            self.graphics.removeItem(self.time_legend)
            self.graphics.removeItem(self.time_plot)

    def _ratio_text(self) -> str:
        """The vanishing gradient in one number: how much smaller dL/dh_0 is than dL/dh_T (and,
        in a deep network, the first layer's gradient than the last's)."""
        parts = []
        ratio = self.depth_ratio() if self.deep else None
        if ratio is not None:
            parts.append(f"first layer / last layer ‖∂L/∂θ‖ = {ratio:.2e}")
        for block_id, tg in self.time_gradients.items():
            g = np.asarray(tg.grad_norm, np.float64)
            if len(g) > 1 and g[-1] > 0 and g[0] > 0:
                parts.append(f"{block_id}: ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ = {g[0] / g[-1]:.2e}")
        return "; ".join(parts)

    # ------------------------------------------------------------ export

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        rows = []
        for name, series in self.layer_series.items():
            rows.extend(("layer", name, int(x), y) for x, y in zip(series.x, series.y, strict=True))
        for block_id, tg in self.time_gradients.items():
            rows.extend(("time", block_id, t, float(v)) for t, v in enumerate(tg.grad_norm))
        for name, values in self.previous_time_gradients.items():
            rows.extend(("time (previous run)", name, t, float(v)) for t, v in enumerate(values))
        write_csv(path, ["kind", "name", "step or t", "gradient norm"], rows)
