"""The dashboard's views fed with synthetic events and probe snapshots (no training)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from engine.probes import (
    ClassificationReport,
    FeatureMap,
    FilterSet,
    ForecastReport,
    Histogram,
    LayerTrace,
    RecurrentTrace,
    TimeGradient,
)
from engine.training.events import EpochMetrics, RunStarted, SettingsChanged, StepMetrics
from gui.training.views import (
    ConfusionMatrixView,
    DecisionRegionView,
    FeatureMapView,
    FilterGridView,
    ForecastView,
    GateHeatmapView,
    GradientFlowView,
    GrowableSeries,
    HistogramView,
    LossCurvesView,
    PredictionGridView,
    SaliencyView,
)
from gui.training.views.filters import filter_mosaic
from gui.training.views.series import MAX_SERIES_POINTS

# Every test here fails if it leaves a window, a thread or a training process behind.
pytestmark = pytest.mark.usefixtures("leak_check")

RNG = np.random.default_rng(0)


def shown(qtbot, view):
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    return view


def steps(run_id, start, count, loss=1.0):
    return [
        StepMetrics(run_id, s, 1, loss / s, 0.01, 1000.0, None, accuracy=min(1.0, s / 100))
        for s in range(start, start + count)
    ]


def test_growable_series_doubles_and_keeps_values():
    series = GrowableSeries(4)
    for i in range(9):
        series.append(i, i * 2)
    series.extend(np.arange(9, 20), np.arange(9, 20) * 2)
    assert series.size == 20 and series.capacity == 32
    np.testing.assert_array_equal(series.y, np.arange(20) * 2)


def test_loss_curves_grow_and_overlay_runs(qtbot, tmp_path):
    view = shown(qtbot, LossCurvesView())
    assert not view.has_data and view.stack.currentWidget() is view.empty_label
    view.start_run(RunStarted(1, "Memory RNN", "first_symbol", "cpu", 2, 50, {}))
    view.add_steps(steps(1, 1, 30))
    view.repaint_now()
    live = view.runs[-1]
    assert len(live.items["train_loss"].xData) == 30
    view.add_steps(steps(1, 31, 20))
    view.add_epoch(EpochMetrics(1, 1, 50, 0.5, 0.6, 0.8, 0.75))
    view.add_settings_change(SettingsChanged(1, 40, {"lr": 0.001}))
    view.repaint_now()
    assert len(live.items["train_loss"].xData) == 50
    assert len(live.items["val_loss"].xData) == 1
    assert [m.value() for m in live.markers] == [40]
    # The smoothed curve starts at the first value and lags the raw one.
    smoothed = live.items["train_loss"].yData
    assert smoothed[0] == pytest.approx(1.0) and smoothed[-1] > live.train_loss.y[-1]

    view.start_run(RunStarted(2, "Memory LSTM", "first_symbol", "cpu", 2, 50, {}))
    view.add_steps(steps(2, 1, 10))
    view.repaint_now()
    names = [label.text for _, label in view.legend.items]
    assert names == ["run 1: Memory RNN · first_symbol", "run 2: Memory LSTM · first_symbol"]
    assert len(view.runs[0].items["train_loss"].xData) == 50  # the old run stays drawn

    view.log_box.setChecked(True)
    view.repaint_now()
    assert view.loss_plot.ctrl.logYCheck.isChecked()
    view.export_csv(tmp_path / "curves.csv")
    lines = (tmp_path / "curves.csv").read_text().splitlines()
    assert lines[0] == "run,series,step,value" and len(lines) > 60
    view.export_png(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_a_forecast_runs_metric_plot_says_mae_from_its_first_steps(qtbot):
    """A regression's steps carry no accuracy and its MAE comes at each epoch's end: until
    then its lower plot said "accuracy" over nothing (the exploding RNN's first steps)."""
    view = shown(qtbot, LossCurvesView())
    view.start_run(RunStarted(1, "RNN", "sine", "cpu", 2, 50, {}))
    view.add_steps([StepMetrics(1, i, 1, 1.0 / i, 0.01, 100.0, None) for i in range(1, 11)])
    view.repaint_now()
    assert view.metric_plot.getAxis("left").labelText == "MAE"
    view.start_run(RunStarted(2, "CNN", "digits", "cpu", 2, 50, {}))
    view.add_steps(steps(2, 1, 10))
    view.repaint_now()
    assert view.metric_plot.getAxis("left").labelText == "accuracy"


def test_loss_curves_handle_a_million_steps_quickly(qtbot):
    view = shown(qtbot, LossCurvesView())
    view.start_run(RunStarted(1, "m", "d", "cpu", 1, 10**6, {}))
    run = view.runs[-1]
    x = np.arange(1, 10**6 + 1, dtype=np.float64)
    for begin in range(0, 10**6, 50_000):  # as batches arrive from the relay
        view.add_points(1, x[begin : begin + 50_000], 1.0 / np.sqrt(x[begin : begin + 50_000]))
    view.repaint_now()
    # Bounded memory: the points kept, not the steps seen; the newest at full resolution.
    assert run.train_loss.total == run.smoothed.total == 10**6
    assert run.train_loss.size <= MAX_SERIES_POINTS and run.smoothed.size <= MAX_SERIES_POINTS
    assert np.array_equal(run.train_loss.x[-1000:], x[-1000:])
    # Peaks of the raw curve (behind the smoothed one, mean-downsampled), both clipped.
    assert run.items["raw_loss"].opts["downsampleMethod"] == "peak"
    assert run.items["train_loss"].opts["downsampleMethod"] == "mean"
    assert run.items["train_loss"].opts["clipToView"] and run.items["raw_loss"].opts["clipToView"]


@pytest.mark.parametrize(
    ("shape", "image_shape"),
    [((8, 1, 5, 5), (3 * 6 - 1, 3 * 6 - 1)), ((16, 8, 3, 3), (16 * 4 - 1, 8 * 4 - 1))],
)
def test_filter_grid_mosaic_shape_and_fixed_levels(qtbot, shape, image_shape):
    view = shown(qtbot, FilterGridView())
    weights = RNG.standard_normal(shape).astype(np.float32)
    view.set_filters([FilterSet("conv1", weights, 2.0), FilterSet("conv2", weights[:2], 1.0)])
    view.repaint_now()
    assert view.image.shape == image_shape
    assert view.item.levels is not None and tuple(view.item.levels) == (-2.0, 2.0)
    # A later, smaller level does not shrink the scale: learning stays visible.
    view.set_filters([FilterSet("conv1", weights * 0.1, 0.2), FilterSet("conv2", weights[:2], 1.0)])
    view.repaint_now()
    assert tuple(view.item.levels) == (-2.0, 2.0)
    view.layer_combo.setCurrentText("conv2")
    view.repaint_now()
    assert view.current.block_id == "conv2"


def test_filter_mosaic_places_kernels():
    weights = np.arange(4 * 1 * 2 * 2, dtype=np.float32).reshape(4, 1, 2, 2)
    image = filter_mosaic(weights)
    np.testing.assert_array_equal(image[3:5, 3:5], weights[3, 0])
    assert np.isnan(image[2, 0])


def test_feature_maps_rows_per_layer(qtbot, tmp_path):
    view = shown(qtbot, FeatureMapView())
    maps = [
        FeatureMap("conv1", "Conv2d", "conv", RNG.standard_normal((4, 8, 8)).astype(np.float32), 3),
        FeatureMap("pool1", "MaxPool2d", "pool", RNG.random((4, 4, 4)).astype(np.float32), 1),
    ]
    view.set_input(RNG.random((1, 8, 8)).astype(np.float32))
    view.set_maps(maps)
    view.repaint_now()
    # input row (8) + gap + conv row (8) + gap + pool row enlarged 2x (8), at 4 columns
    assert view.columns == 4
    assert view.image.shape == (8 * 3 + 2 * 3, 4 * 9 - 1)
    assert [label for label, _ in view.row_labels] == ["input", "conv1\n4×8×8", "pool1\n4×4×4"]
    view.export_csv(tmp_path / "maps.csv")
    assert len((tmp_path / "maps.csv").read_text().splitlines()) == 1 + 4 * 64 + 4 * 16


def test_feature_maps_fill_their_view_at_any_shape(qtbot):
    from PySide6.QtWidgets import QApplication

    view = shown(qtbot, FeatureMapView())
    maps = [
        FeatureMap(f"layer{i}", "Conv2d", "conv", RNG.random((16, 8, 8)).astype(np.float32), 1)
        for i in range(4)
    ]
    view.set_maps(maps)
    for width, height in ((500, 400), (900, 300), (320, 700)):
        view.resize(width, height)
        QApplication.processEvents()
        qtbot.waitUntil(lambda: view.is_dirty)  # a new shape asks for a new layout
        view.repaint_now()
        QApplication.processEvents()
        fill_w, fill_h = view.image_fill()
        # One side spans the view and the other at least half of it: a grid, not a strip
        # (16 maps a row filled ~25 % of the height at 500x400).
        assert max(fill_w, fill_h) > 0.85 and min(fill_w, fill_h) > 0.5, (width, height)
    # Sharp pixels: Qt scales the image without smoothing.
    from PySide6.QtGui import QPainter

    assert not view.graphics.renderHints() & QPainter.RenderHint.SmoothPixmapTransform


def lstm_trace(steps=12, units=5):
    gates = {
        name: RNG.random((steps, units)).astype(np.float32)
        for name in ("input", "forget", "candidate", "output", "cell", "hidden")
    }
    return RecurrentTrace("lstm", "LSTM", (LayerTrace(0, 0, gates),))


def test_gate_heatmaps_are_time_by_units_and_hover_reads_values(qtbot, tmp_path):
    view = shown(qtbot, GateHeatmapView())
    trace = lstm_trace()
    view.set_trace(trace, sequence=RNG.random((12, 1)).astype(np.float32))
    view.repaint_now()
    assert set(view.heatmaps) == {"input", "forget", "candidate", "output", "cell", "hidden"}
    for name, values in view.heatmaps.items():
        assert values.shape == (12, 5)
        assert view.gate_plots[name][1].image.shape == (5, 12)  # rows = units, columns = time
    assert view.input_curves[0].xData.shape == (12,)
    # Every heatmap has a colour bar beside it with its value range: sigmoid gates 0..1,
    # tanh ones ±1, the cell state symmetric around its largest value.
    assert set(view.colour_bars) == set(view.heatmaps)
    assert view.colour_bars["forget"].levels() == (0.0, 1.0)
    assert view.colour_bars["candidate"].levels() == (-1.0, 1.0)
    peak = float(np.abs(trace.layers[0].gates["cell"]).max())
    assert view.colour_bars["cell"].levels() == pytest.approx((-peak, peak))
    for name, bar in view.colour_bars.items():
        assert bar.levels() == pytest.approx(tuple(view.gate_plots[name][1].levels))  # drawn
    forget = trace.layers[0].gates["forget"]
    assert view.value_at("forget", 3, 2) == pytest.approx(float(forget[3, 2]))
    plot = view.gate_plots["forget"][0]
    plot.vb.setRange(xRange=(0, 12), yRange=(0, 5), padding=0)
    view.graphics.scene().sigMouseMoved.emit(plot.vb.mapViewToScene(pg_point(3.5, 2.5)))
    assert "t = 3, unit 2" in view.hover_label.text()
    # A GRU trace rebuilds the layout with its own gates.
    gru = RecurrentTrace(
        "gru",
        "GRU",
        (LayerTrace(0, 0, {n: RNG.random((7, 3)).astype(np.float32) for n in ("reset", "update", "candidate", "hidden")}),),
    )  # fmt: skip
    view.set_trace(gru)
    view.block_combo.setCurrentText("gru")
    view.repaint_now()
    assert set(view.heatmaps) == {"reset", "update", "candidate", "hidden"}
    view.export_csv(tmp_path / "gates.csv")
    assert len((tmp_path / "gates.csv").read_text().splitlines()) == 1 + 4 * 7 * 3


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_gradient_flow_keeps_previous_run(qtbot, tmp_path):
    view = shown(qtbot, GradientFlowView())
    view.new_run("run 1: RNN")
    for step in range(1, 6):
        view.add_layer_gradients(step, {"rnn": 0.1 * step, "head": 0.0 if step == 1 else 1.0})
    vanishing = np.geomspace(1e-6, 1.0, 20).astype(np.float32)
    view.set_time_gradients(TimeGradient("rnn", vanishing, vanishing[None], 0.5))
    view.repaint_now()
    assert len(view.layer_curves["rnn"].xData) == 5
    assert "1.00e-06" in view.caption.text()
    view.new_run("run 2: LSTM")
    view.set_time_gradients(TimeGradient("rnn", np.ones(20, np.float32), np.ones((1, 20)), 0.5))
    view.repaint_now()
    assert list(view.previous_time_gradients) == ["run 1: RNN · rnn"]
    assert len(view.time_plot.listDataItems()) == 2
    view.export_csv(tmp_path / "grad.csv")
    assert "time (previous run)" in (tmp_path / "grad.csv").read_text()


def test_histograms_per_layer(qtbot):
    view = shown(qtbot, HistogramView())
    hist = Histogram(
        "conv1", np.arange(10, dtype=np.int64), np.linspace(-1, 1, 11).astype(np.float32), 0
    )
    view.set_histograms("weights", [hist])
    view.set_histograms("activations", [Histogram("conv1", hist.counts, hist.edges, 3)])
    view.repaint_now()
    assert len(view.curves["weights"].yData) == 10
    assert "3 NaN/inf" in view.plots["activations"].titleLabel.text
    with pytest.raises(ValueError, match="kind"):
        view.set_histograms("biases", [hist])


def classification(k=3, n=30):
    truth = RNG.integers(0, k, n)
    predicted = np.where(RNG.random(n) < 0.7, truth, (truth + 1) % k)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (truth, predicted), 1)
    correct = predicted == truth
    return truth, ClassificationReport(
        cm, predicted, correct, np.full(n, 0.9, np.float32), correct.mean()
    )


def test_confusion_matrix_is_k_by_k(qtbot, tmp_path):
    view = shown(qtbot, ConfusionMatrixView())
    _, report = classification(k=4)
    view.set_class_names(["a", "b", "c", "d"])
    view.set_report(report)
    view.repaint_now()
    assert view.item.image.shape == (4, 4)
    assert view.colour_bar.levels() == (0.0, 1.0)  # the row fraction
    assert len(view.cell_labels) == 16
    assert sum(int(t.toPlainText()) for t in view.cell_labels) == 30
    view.export_csv(tmp_path / "cm.csv")
    assert (tmp_path / "cm.csv").read_text().splitlines()[0] == "true \\ predicted,a,b,c,d"


def test_prediction_grid_marks_right_and_wrong(qtbot):
    view = shown(qtbot, PredictionGridView())
    truth, report = classification(k=3, n=30)
    view.set_samples(RNG.random((30, 1, 6, 6)).astype(np.float32), truth, ["x", "y", "z"])
    view.set_report(report)
    view.repaint_now()
    image = view.item.image
    # 3 rows of 10: each cell a framed 6x6 image, an 8-row label band and a 1-pixel gap.
    assert image.shape == (3 * (6 + 4 + 8 + 1), 10 * (6 + 4 + 1), 3)
    # Blue frames when right, orange when wrong (not green/red), and a ✓/✗ in every label.
    blue, orange = (0, 114, 178), (230, 159, 0)
    cell_h, cell_w = 6 + 4 + 8 + 1, 6 + 4 + 1
    for i in range(30):
        r, c = divmod(i, 10)
        assert tuple(image[r * cell_h, c * cell_w]) == (blue if report.correct[i] else orange)
    labels = view.sample_labels()
    assert len(labels) == 30
    names = "xyz"
    for i, label in enumerate(labels):
        predicted = names[report.predictions[i]]
        if report.correct[i]:
            assert label == f"✓ {predicted}"
        else:
            assert label == f"✗ {predicted}\ntrue {names[truth[i]]}"
    assert f"{int((~report.correct).sum())} wrong" in view.caption.text()
    # Too small to hold the text: no labels over the samples, and the caption says why.
    from PySide6.QtWidgets import QApplication

    view.resize(200, 150)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: view.is_dirty)
    view.repaint_now()
    assert view.sample_labels() == [] and "enlarge the view" in view.caption.text()
    view.resize(700, 500)
    QApplication.processEvents()
    view.repaint_now()
    assert len(view.sample_labels()) == 30


def test_forecast_view(qtbot, tmp_path):
    view = shown(qtbot, ForecastView())
    target = np.sin(np.linspace(0, 6, 50, dtype=np.float32))[:, None]
    view.set_report(ForecastReport(target + 0.1, target, 0.01, 0.1))
    view.repaint_now()
    assert len(view.predicted_curve.xData) == 50
    view.export_csv(tmp_path / "f.csv")
    assert (tmp_path / "f.csv").exists()


def test_views_do_not_paint_while_hidden(qtbot):
    view = LossCurvesView()
    qtbot.addWidget(view)
    view.start_run(RunStarted(1, "m", "d", "cpu", 1, 10, {}))
    view.add_steps(steps(1, 1, 5))
    assert not view.repaint_if_needed() and view.paint_count == 0
    view.show()
    assert view.repaint_if_needed() and view.paint_count == 1
    assert not view.repaint_if_needed()  # nothing new: no repaint


ALL_VIEWS = (
    LossCurvesView, FilterGridView, FeatureMapView, GateHeatmapView, GradientFlowView,
    HistogramView, ConfusionMatrixView, PredictionGridView, ForecastView, DecisionRegionView,
    SaliencyView,
)  # fmt: skip


def readme_view_help() -> dict[str, str]:
    """The README's "What each view shows" bullets, by title, as the plain text a view shows."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### What each view shows, and how to read it\n", 1)[1]
    section = section.split("\n#", 1)[0].split("\nTo regenerate", 1)[0]
    found = {}
    for bullet in re.split(r"\n(?=- \*\*)", section.strip()):
        # "**Gates** (RNN, GRU, LSTM). Text": the view says the text; the title and what it
        # applies to are the README's list structure.
        title, body = re.match(r"- \*\*(.+?)\.?\*\*(?: \([^)]*\)\.)?(.*)", bullet, re.S).groups()
        parts = [" ".join(p.split()).replace("*", "") for p in re.split(r"\n  - ", body.strip())]
        found[title] = "\n• ".join(parts)
    return found


def test_every_view_says_how_to_read_it_in_the_readmes_words(qtbot):
    readme = readme_view_help()
    assert len(readme) == len(ALL_VIEWS)
    for cls in ALL_VIEWS:
        view = cls()
        qtbot.addWidget(view)
        assert view.how_to_read == readme[view.title], view.title
        assert view.help_button.isEnabled() and view.help_button.text() == "?"
        # Rich text, so Qt wraps it; every paragraph (sub-bullet) is there.
        html = view.help_button.toolTip()
        assert html.startswith("<b>How to read this</b>")
        assert html.count("<p>") == view.how_to_read.count("\n") + 1


def inside(inner, outer) -> bool:
    return outer.adjusted(-1, -1, 1, 1).contains(inner)


def test_curves_legend_sits_outside_the_plots_and_the_lr_marker_reads_whole(qtbot):
    from PySide6.QtWidgets import QApplication

    view = shown(qtbot, LossCurvesView())
    for run_id in (1, 2):
        view.start_run(RunStarted(run_id, f"model {run_id}", "digits", "cpu", 2, 50, {}))
        view.add_steps(steps(run_id, 1, 40))
    view.add_settings_change(SettingsChanged(2, 20, {"lr": 0.0005}))
    view.repaint_now()
    QApplication.processEvents()
    legend = view.legend.sceneBoundingRect()
    assert len(view.legend.items) == 2
    for plot in (view.loss_plot, view.metric_plot):
        assert not legend.intersects(plot.vb.sceneBoundingRect())
    label = view.runs[-1].markers[0].label
    assert label.toPlainText() == "lr 0.0005"
    assert inside(label.sceneBoundingRect(), view.loss_plot.vb.sceneBoundingRect())


def test_gradient_flow_legends_sit_outside_their_plots(qtbot):
    from PySide6.QtWidgets import QApplication

    view = shown(qtbot, GradientFlowView())
    view.new_run("run 1")
    for step in range(1, 20):
        view.add_layer_gradients(step, {f"layer{i}": 0.1 * (i + 1) for i in range(6)})
    view.set_time_gradients(TimeGradient("rnn", np.geomspace(1e-6, 1, 10), np.ones((1, 10)), 1))
    view.repaint_now()
    QApplication.processEvents()
    plots = [view.layer_plot.vb.sceneBoundingRect(), view.time_plot.vb.sceneBoundingRect()]
    for legend in (view.layer_legend, view.time_legend):
        assert legend.items
        assert not any(legend.sceneBoundingRect().intersects(p) for p in plots)


def test_gradient_flow_draws_a_layers_first_norm_as_a_dot_then_a_line(qtbot):
    """One point draws no line: right after a run's first step the plot looked empty."""
    view = shown(qtbot, GradientFlowView())
    view.new_run("run 1")
    view.add_layer_gradients(1, {"rnn1": 0.5, "dense1": 0.2})
    view.repaint_now()
    assert all(c.opts["symbol"] == "o" for c in view.layer_curves.values())
    view.add_layer_gradients(2, {"rnn1": 0.4, "dense1": 0.1})
    view.repaint_now()
    assert all(c.opts["symbol"] is None for c in view.layer_curves.values())


def test_loss_curves_draw_a_runs_first_step_as_a_dot_then_a_line(qtbot):
    """An exploding run that fails at step 1 (README, the exploding gradient) left the Loss
    curves empty: its one step drew no line."""
    view = shown(qtbot, LossCurvesView())
    view.start_run(RunStarted(1, "m", "d", "cpu", 2, 10, {}))
    view.add_steps([StepMetrics(1, 1, 1, 2.4e7, 0.01, 300.0, None, 0.5)])
    view.repaint_now()
    run = view.runs[-1]
    assert run.items["train_loss"].opts["symbol"] == "o"
    assert run.items["train_metric"].opts["symbol"] == "o"
    view.add_steps([StepMetrics(1, 2, 1, 2.0e7, 0.01, 300.0, None, 0.6)])
    view.repaint_now()
    assert run.items["train_loss"].opts["symbol"] is None
    assert run.items["train_metric"].opts["symbol"] is None


def test_gradient_flow_of_a_deep_network_plots_the_norm_by_depth(qtbot):
    """26 layers: a legend of every layer would fill the plot; the norm by depth (the newest
    step, first layer to last) takes its place, and the caption gives their ratio."""
    from PySide6.QtWidgets import QApplication

    view = shown(qtbot, GradientFlowView())
    view.resize(480, 320)  # a cell of the Train grid at 1280×800
    view.new_run("run 1")
    norms = {f"dense{i}": 10.0 ** (-0.25 * (25 - i)) for i in range(26)}  # vanishing backwards
    for step in range(1, 6):
        view.add_layer_gradients(step, norms)
    view.repaint_now()
    QApplication.processEvents()
    assert view.deep and view.depth_plot.scene() is not None
    assert view.layer_legend.scene() is None  # not drawn over (or above) the curves
    x, y = view.depth_curve.getData()
    assert list(x) == list(range(1, 27)) and y[0] < y[-1]  # log mode: y holds log10 values
    assert view.depth_ratio() == pytest.approx(10.0**-6.25)
    assert "first layer / last layer ‖∂L/∂θ‖ = 5.62e-07" in view.caption.text()
    # A plot of its own, of a readable height, not a strip.
    assert view.layer_plot.vb.sceneBoundingRect().height() > 60

    view.new_run("run 2")  # a shallow model again: the legend comes back
    for step in range(1, 6):
        view.add_layer_gradients(step, {"conv1": 0.5, "dense1": 0.2})
    view.repaint_now()
    assert not view.deep and view.layer_legend.scene() is not None
    assert view.depth_plot.scene() is None and "first layer" not in view.caption.text()


def log_labels(plot, low, high):
    """The non-empty tick labels a log-mode left axis draws for the range 10^low .. 10^high."""
    from PySide6.QtWidgets import QApplication

    plot.setLogMode(y=True)
    plot.vb.setRange(yRange=(low, high), padding=0)
    QApplication.processEvents()
    axis = plot.getAxis("left")
    labels = []
    for spacing, values in axis.tickValues(low, high, axis.height()):
        strings = axis.tickStrings(values, 1.0, spacing)
        labels.extend((v, s) for v, s in zip(values, strings, strict=True) if s)
    return labels


def test_log_axes_label_decades_not_every_minor_tick(qtbot):
    view = shown(qtbot, GradientFlowView())
    mantissas = lambda labels: {round(10 ** (v - np.floor(v + 1e-9)), 3) for v, _ in labels}  # noqa: E731
    # Four decades: only 10^n is written, though pyqtgraph ticks 2..9 × 10^n too.
    wide = log_labels(view.layer_plot, -3.0, 1.0)
    assert wide and mantissas(wide) == {1.0}
    # Within a decade and a bit (a loss from 2 down to 0.09): 1, 2 and 5 multiples only.
    narrow = log_labels(view.layer_plot, np.log10(0.09), np.log10(2.0))
    assert mantissas(narrow) <= {1.0, 2.0, 5.0} and len(narrow) >= 3


def test_short_log_axes_keep_their_labels_a_line_of_text_apart(qtbot):
    """The norm by depth of a deep network is a short plot in a Train grid cell (~50 px at
    1280×800). Norms within a decade (0.01-0.06) ticked 0.01, 0.02 ... 0.06 piled up there."""
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QApplication

    view = shown(qtbot, GradientFlowView())
    view.resize(473, 265)  # the drawing area of a grid view at 1280×800
    view.new_run("run 1")
    norms = {f"dense{i}": 0.01 + 0.002 * i for i in range(26)}
    for step in range(1, 4):
        view.add_layer_gradients(step, norms)
    view.repaint_now()
    QApplication.processEvents()
    assert view.deep
    for plot in (view.depth_plot, view.layer_plot):
        axis = plot.getAxis("left")
        low, high = sorted(axis.range)
        labels = log_labels(plot, low, high)
        assert labels, "a log axis with no label at all"
        per_decade = axis.size().height() / (high - low)
        line = QFontMetrics(axis.style.get("tickFont") or axis.font()).height()
        places = sorted({v for v, _ in labels})
        gaps = [(b - a) * per_decade for a, b in zip(places, places[1:], strict=False)]
        assert all(gap >= line for gap in gaps), (labels, gaps, line)


def test_the_raw_loss_is_faint_opaque_and_under_every_other_curve(qtbot):
    """The raw loss is drawn in the run's colour at a quarter over the white background,
    opaque: the same colour at alpha 0x40 cost ~3 times as much to paint (its band blended
    pixel by pixel). Under every other curve, so none is hidden."""
    from gui.training.views.curves import faint

    view = shown(qtbot, LossCurvesView())
    view.start_run(RunStarted(1, "Memory RNN", "first_symbol", "cpu", 2, 50, {}))
    view.add_steps(steps(1, 1, 30))
    view.repaint_now()
    live = view.runs[-1]
    raw = live.items["raw_loss"]
    colour = raw.opts["pen"].color()
    assert colour.alpha() == 255 and colour.name() == faint(live.colour)
    assert faint("#0072B2") == "#bfdcec"  # (0, 114, 178) at 25 % over white
    assert all(raw.zValue() < item.zValue() for k, item in live.items.items() if k != "raw_loss")


def test_the_validation_curves_lose_their_dots_past_a_hundred_epochs(qtbot):
    """A dot per epoch while they can be told apart; a run of short epochs (60 a second) would
    otherwise redraw thousands of symbols every frame."""
    from gui.training.views.curves import MAX_EPOCH_DOTS

    view = shown(qtbot, LossCurvesView())
    view.start_run(RunStarted(1, "MLP", "moons", "cpu", None, 5, {}))
    for epoch in range(1, MAX_EPOCH_DOTS + 1):
        view.add_epoch(EpochMetrics(1, epoch, 5 * epoch, 0.5, 0.6, 0.8, 0.75))
    view.add_steps(steps(1, 1, 5))
    view.repaint_now()
    live = view.runs[-1]
    assert live.items["val_loss"].opts["symbol"] == "o"
    view.add_epoch(EpochMetrics(1, MAX_EPOCH_DOTS + 1, 5 * MAX_EPOCH_DOTS + 5, 0.5, 0.6, 0.8, 0.7))
    view.repaint_now()
    assert live.items["val_loss"].opts["symbol"] is None
    assert live.items["val_metric"].opts["symbol"] is None
    assert len(live.items["val_loss"].xData) == MAX_EPOCH_DOTS + 1  # the line keeps every epoch


def test_the_smoothed_loss_is_mean_downsampled_and_the_raw_one_keeps_its_peaks(qtbot):
    view = shown(qtbot, LossCurvesView())
    view.start_run(RunStarted(1, "MLP", "moons", "cpu", 2, 50, {}))
    view.add_steps(steps(1, 1, 30))
    view.repaint_now()
    live = view.runs[-1]
    assert live.items["train_loss"].opts["downsampleMethod"] == "mean"  # smoothed
    assert live.items["raw_loss"].opts["downsampleMethod"] == "peak"
    view.smooth_box.setChecked(False)  # the raw loss itself: its spikes must show
    view.repaint_now()
    assert live.items["train_loss"].opts["downsampleMethod"] == "peak"
