"""The training dashboard in the real main window: docks, the repaint timer, and real runs."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.probes import FilterSet, Histogram
from engine.training.events import ProbeSnapshot, RunStarted, StepMetrics
from gui.training.dashboard import install

FAST_PROBES = {
    kind: 0.05
    for kind in ("layer_gradients", "filters", "weight_histograms", "feature_maps", "gates",
                 "time_gradients", "activation_histograms", "classification_report",
                 "forecast_report")
}  # fmt: skip
RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def dashboard(main_window, qtbot):
    board = install(main_window, main_window.document)
    board.settings_overrides = {"probe_intervals": FAST_PROBES, "seed": 0}
    qtbot.waitUntil(lambda: board.docks["Loss curves"].widget().is_on_screen(), timeout=5000)
    yield board
    board.shutdown()


def open_example(window, name):
    window.document.new(ModelSpec.load(example_path(name)))


def test_panel_starts_from_the_engine_defaults_and_lr_follows_the_optimiser(qtbot):
    from engine.training.settings import DEFAULT_LR, TrainSettings
    from gui.training.panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    defaults = TrainSettings()
    chosen = panel.settings()
    assert (chosen["optimizer"], chosen["lr"]) == (defaults.optimizer, defaults.lr)
    assert (chosen["batch_size"], chosen["epochs"]) == (defaults.batch_size, defaults.epochs)
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
    assert panel.settings()["lr"] == DEFAULT_LR["sgd"] == 0.01
    panel.lr_spin.setValue(0.05)  # typed by the user: theirs, kept across a change
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("adam"))
    assert panel.settings()["lr"] == 0.05


def test_timer_repaints_only_views_on_screen(dashboard, monkeypatch):
    monkeypatch.setattr("gui.training.dashboard.MAX_FRAME_WAIT", 0.0)  # no pacing here
    board = dashboard
    board.on_run_started(RunStarted(1, "CNN", "digits", "cpu", 1, 10, {}))
    board.on_steps([StepMetrics(1, s, 1, 1.0 / s, 1e-3, 100.0, 1.0) for s in range(1, 6)])
    weights = np.zeros((4, 1, 3, 3), np.float32)
    board.on_probe(ProbeSnapshot(1, 5, "filters", (FilterSet("conv1", weights, 1.0),)))
    hist = Histogram("conv1", np.ones(4, np.int64), np.linspace(0, 1, 5, dtype=np.float32), 0)
    board.on_probe(ProbeSnapshot(1, 5, "weight_histograms", (hist,)))
    board.docks["Filters"].raise_()
    board.repaint_views()
    assert board.curves.paint_count == 1 and board.filters.paint_count == 1
    # Histograms is tabbed behind Filters: it holds data but is not painted.
    assert board.histograms.is_dirty and board.histograms.paint_count == 0
    board.docks["Loss curves"].close()
    board.on_steps([StepMetrics(1, 6, 1, 0.1, 1e-3, 100.0, 1.0)])
    assert board.repaint_views() == 0 and board.curves.paint_count == 1
    board.docks["Histograms"].raise_()
    board.docks["Histograms"].widget().window().repaint()
    assert board.repaint_views() == 1 and board.histograms.paint_count == 1


def test_repaints_are_paced_by_their_cost(dashboard):
    from gui.training.dashboard import MAX_FRAME_WAIT, PAINT_BUDGET

    board = dashboard
    cpu = [10.0]
    board.cpu_clock = lambda: cpu[0]
    board.on_run_started(RunStarted(1, "CNN", "digits", "cpu", 1, 10, {}))
    board.on_steps([StepMetrics(1, 1, 1, 1.0, 1e-3, 100.0, 1.0)])
    assert board.repaint_views() == 1
    cpu[0] += 0.02  # as if that frame (updates, paint events, layout) took 20 ms of GUI CPU
    board.on_steps([StepMetrics(1, 2, 1, 0.9, 1e-3, 100.0, 1.0)])
    assert board.repaint_views() == 0  # too soon: 20 ms of painting buys 0.5 s of training
    wait = board._next_paint - board._last_frame
    assert wait == pytest.approx(0.02 / PAINT_BUDGET) and wait <= MAX_FRAME_WAIT
    assert board.paint_seconds == pytest.approx(0.02)
    # A frame dearer than MAX_FRAME_WAIT * PAINT_BUDGET still lets the views update that often.
    board._next_paint = 0.0
    assert board.repaint_views() == 1
    cpu[0] += 1.0
    board.repaint_views()
    assert board._next_paint - board._last_frame == pytest.approx(MAX_FRAME_WAIT)
    # Ticks that painted nothing are not charged to a frame.
    board._next_paint, before = 0.0, board.paint_seconds
    cpu[0] += 5.0
    assert board.repaint_views() == 0  # nothing dirty
    assert board.paint_seconds == before


def test_cnn_run_from_the_panel_fills_the_views(dashboard, qtbot):
    board = dashboard
    board.panel.epochs_spin.setValue(3)
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(board.panel.train_button, qt_left_button())
    event = finished.args[0]
    qtbot.wait(200)  # the last coalesced updates
    steps = event.step
    for view in board.views.values():
        view.repaint_now()
    assert board.curves.runs[-1].train_loss.size == steps
    assert len(board.curves.runs[-1].items["train_loss"].xData) == steps
    assert len(board.curves.runs[-1].val_loss.x) == 3
    first = board.filters.current
    out, inp, kh, kw = first.weights.shape
    assert (out, inp, kh, kw) == (16, 1, 3, 3)
    assert board.filters.image.shape == (4 * (kh + 1) - 1, 4 * (kw + 1) - 1)
    assert [m.kind for m in board.feature_maps.maps][:3] == ["conv", "activation", "pool"]
    assert board.confusion.matrix.shape == (10, 10)
    assert board.predictions.shown > 0
    assert board.gradients.layer_series["conv1"].size > 0
    assert board.panel.state == "idle" and board.panel.train_button.isEnabled()
    assert "Finished" in board.panel.status_label.text()


def qt_left_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_lstm_run_pause_lr_change_resume_stop(dashboard, qtbot):
    board = dashboard
    open_example(board.window, "memory_lstm")
    assert board.panel.dataset_id == "first_symbol"
    board.panel.epochs_spin.setValue(200)
    board.train()
    qtbot.waitUntil(lambda: bool(board.curves.runs) and board.curves.runs[-1].train_loss.size > 5,
                    timeout=RUN_TIMEOUT_MS)  # fmt: skip
    with qtbot.waitSignal(board.controller.paused_changed, timeout=10_000) as paused:
        qtbot.mouseClick(board.panel.pause_button, qt_left_button())
    assert paused.args == [True] and board.panel.pause_button.text() == "Resume"
    board.panel.lr_spin.setValue(0.01)  # edited while paused: applied at the next step
    with qtbot.waitSignal(board.controller.paused_changed, timeout=10_000):
        qtbot.mouseClick(board.panel.pause_button, qt_left_button())
    run = board.curves.runs[-1]
    qtbot.waitUntil(lambda: bool(run.markers), timeout=10_000)
    assert "lr=0.01" in run.markers[0].label.toPlainText()
    qtbot.waitUntil(lambda: board.last_step.lr == pytest.approx(0.01), timeout=10_000)
    qtbot.waitUntil(lambda: board.gates.current_trace is not None, timeout=RUN_TIMEOUT_MS)
    board.gates.repaint_now()
    steps = board.document.spec.dataset_options["seq_len"]
    units = next(b for b in board.document.spec.blocks if b.type == "lstm").params["hidden_size"]
    assert board.gates.heatmaps["forget"].shape == (steps, units)
    assert board.gates._input_curves[0].xData.shape == (steps,)  # the input, on the same t axis
    with qtbot.waitSignal(board.controller.run_finished, timeout=10_000) as finished:
        qtbot.mouseClick(board.panel.stop_button, qt_left_button())
    assert finished.args[0].stopped_early
    assert board.panel.state == "idle"
    assert board.curves.runs[-1].train_loss.size > 5  # still inspectable after the run


def test_nan_learning_rate_shows_the_failure_and_the_app_stays_usable(dashboard, qtbot):
    board = dashboard
    open_example(board.window, "sine_lstm")  # MSE on a forecast: blows up at once
    board.panel.optimizer_combo.setCurrentIndex(board.panel.optimizer_combo.findData("sgd"))
    board.panel.lr_spin.setValue(1000.0)
    board.panel.epochs_spin.setValue(50)
    with qtbot.waitSignal(board.controller.run_failed, timeout=RUN_TIMEOUT_MS) as failed:
        board.train()
    message = failed.args[0].message
    assert "learning rate" in message
    assert board.panel.status_label.text() == message
    assert board.panel.state == "idle" and board.panel.train_button.isEnabled()
    assert message in board.window.statusBar().currentMessage()
    # Usable: a sensible rate trains again in the same window.
    board.panel.lr_spin.setValue(0.05)
    board.panel.epochs_spin.setValue(1)
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
    assert len(board.curves.runs) == 2


def test_a_training_process_killed_from_outside_is_a_message_and_training_goes_on(dashboard, qtbot):
    import signal

    board = dashboard
    open_example(board.window, "digits_cnn")
    board.panel.epochs_spin.setValue(500)
    with qtbot.waitSignal(board.controller.steps_received, timeout=RUN_TIMEOUT_MS):
        board.train()
    with qtbot.waitSignal(board.controller.run_failed, timeout=RUN_TIMEOUT_MS) as failed:
        os.kill(board.controller.process.pid, signal.SIGKILL)
    message = failed.args[0].message
    assert "training process was killed" in message and "Press Train" in message
    assert board.panel.status_label.text() == message and board.panel.state == "idle"
    board.panel.epochs_spin.setValue(1)
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
    assert len(board.curves.runs) == 2


def test_a_probe_sample_the_run_refuses_is_shown_in_the_panel(dashboard):
    error = "Sample 900 is not in the validation set (0-299); pick another."
    dashboard.on_probe(ProbeSnapshot(1, 5, "probe_input", None, error))
    assert dashboard.panel.status_label.text() == error
