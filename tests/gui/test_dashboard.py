"""The training dashboard in the real main window: docks, the paced repaints, probe routing and
real runs."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import itertools

import numpy as np
import pytest

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.probes import FilterSet, Histogram, ProbeInput, TimeGradient
from engine.probes.registry import PROBE_KINDS, PROBES
from engine.training.events import (
    EpochMetrics,
    ProbeSnapshot,
    RunStarted,
    SettingsChanged,
    StepMetrics,
)
from gui.training.dashboard import install
from gui.training.docks import VIEW_ORDER, applying_views, grid_views, relevant_views
from gui.training.views import LossCurvesView

# Every test here fails if it leaves a window, a thread or a training process behind.
pytestmark = pytest.mark.usefixtures("leak_check")

FAST_PROBES = {kind: 0.05 for kind in PROBE_KINDS}
RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def dashboard(main_window, qtbot):
    board = install(main_window, main_window.document)
    board.settings_overrides = {"probe_intervals": FAST_PROBES, "seed": 0}
    main_window.workspaces.show("train")  # the views' workspace
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


def test_until_stopped_is_a_setting_the_panel_shows_saves_and_restores(qtbot):
    from gui.training.panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.epochs_spin.setValue(7)
    panel.until_stopped_check.setChecked(True)
    assert panel.settings()["epochs"] is None and not panel.epochs_spin.isEnabled()
    panel.until_stopped_check.setChecked(False)
    assert panel.settings()["epochs"] == 7 and panel.epochs_spin.isEnabled()
    panel.set_settings({"epochs": None})  # a project saved with "until stopped"
    assert panel.until_stopped_check.isChecked() and panel.epochs_spin.value() == 7
    panel.set_settings({"epochs": 12})
    assert not panel.until_stopped_check.isChecked() and panel.settings()["epochs"] == 12

    panel.until_stopped_check.setChecked(True)
    panel.run_started(RunStarted(1, "m", "d", "cpu", None, 10, {}, first_step=40, first_epoch=4))
    assert panel.progress.format() == "epoch 5 · step 40 · until stopped"
    assert not panel.until_stopped_check.isEnabled()  # settings of a live run stay as they are
    step = StepMetrics(1, 53, 6, 0.5, 0.001, 100.0, None, 0.5)
    panel.steps_received([step])
    assert panel.progress.format() == "epoch 6 · step 53 · until stopped"
    assert (panel.progress.value(), panel.progress.maximum()) == (3, 10)  # into epoch 6


def test_an_epochs_summary_and_a_setting_change_reach_the_status_bar(dashboard):
    """In the Train workspace the run bar shows the speed while running and the panel is
    closed: the epoch's validation figures and a live change are said in the status bar."""
    board = dashboard
    status = board.window.statusBar()
    board.on_run_started(RunStarted(1, "CNN", "digits", "cpu", 3, 10, {}))
    board.on_epoch(EpochMetrics(1, 1, 10, 0.9, 0.8, 0.7, 0.75))
    assert status.currentMessage() == "Epoch 1: validation loss 0.8, validation accuracy 75.0%."
    board.on_settings_changed(SettingsChanged(1, 12, {"lr": 0.001}))
    assert status.currentMessage().startswith("Step 12: ")
    assert "0.001" in status.currentMessage()


def test_timer_repaints_only_views_on_screen(dashboard):
    board = dashboard
    board.painter.pacer.clock = itertools.count(0.0, 100.0).__next__  # every tick is due
    board.on_run_started(RunStarted(1, "CNN", "digits", "cpu", 1, 10, {}))
    board.on_steps([StepMetrics(1, s, 1, 1.0 / s, 1e-3, 100.0, 1.0) for s in range(1, 6)])
    weights = np.zeros((4, 1, 3, 3), np.float32)
    board.on_probe(ProbeSnapshot(1, 5, "filters", (FilterSet("conv1", weights, 1.0),)))
    hist = Histogram("conv1", np.ones(4, np.int64), np.linspace(0, 1, 5, dtype=np.float32), 0)
    board.on_probe(ProbeSnapshot(1, 5, "weight_histograms", (hist,)))
    board.docks["Filters"].raise_()
    # One view a tick, the one waiting longest (of the never painted, the curves first).
    assert [board.repaint_views() for _ in range(3)] == [1, 1, 0]
    assert board.curves.paint_count == 1 and board.filters.paint_count == 1
    # Histograms is tabbed behind Filters: it holds data but is not painted.
    assert board.histograms.is_dirty and board.histograms.paint_count == 0
    board.docks["Loss curves"].close()
    board.on_steps([StepMetrics(1, 6, 1, 0.1, 1e-3, 100.0, 1.0)])
    assert board.repaint_views() == 0 and board.curves.paint_count == 1
    board.docks["Histograms"].raise_()
    board.docks["Histograms"].widget().window().repaint()
    assert board.repaint_views() == 1 and board.histograms.paint_count == 1


def test_repaints_are_paced_by_their_cost(qtbot):
    from gui.training.painting import MAX_FRAME_WAIT, PAINT_BUDGET, REPAINT_HZ, ViewPainter

    view = LossCurvesView()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(view.is_on_screen)
    wall, cpu = [100.0], [10.0]
    painter = ViewPainter([view], cpu_clock=lambda: cpu[0], clock=lambda: wall[0])
    painter.stop()  # the test ticks it
    tick = 1 / REPAINT_HZ
    view.start_run(RunStarted(1, "CNN", "digits", "cpu", 1, 10, {}))

    def frame_with_new_data(step):
        view.add_steps([StepMetrics(1, step, 1, 1.0 / step, 1e-3, 100.0, 1.0)])
        return painter.repaint_views()

    assert frame_with_new_data(1) == 1  # the first frame at once
    cpu[0] += 0.03  # as if that frame (updates, paint events, layout) took 30 ms of GUI CPU
    wall[0] += tick
    assert frame_with_new_data(2) == 0  # too soon: 30 ms of painting buys 0.2 s of other work
    assert painter.pacer.wait() == pytest.approx(0.03 / PAINT_BUDGET)
    assert painter.paint_seconds == pytest.approx(0.03)
    wall[0] = 100.0 + 0.03 / PAINT_BUDGET
    assert painter.repaint_views() == 1
    # A frame dearer than MAX_FRAME_WAIT * PAINT_BUDGET still lets the views update that often.
    cpu[0] += 4 * MAX_FRAME_WAIT * PAINT_BUDGET  # smoothed, still dearer than that
    wall[0] += tick
    assert frame_with_new_data(3) == 0
    assert painter.pacer.wait() == MAX_FRAME_WAIT
    wall[0] = painter.pacer.next_run()
    assert painter.repaint_views() == 1
    # Ticks that paint nothing are not charged to a frame; cheap frames come every tick.
    wall[0] += MAX_FRAME_WAIT
    assert painter.repaint_views() == 0  # nothing dirty: no frame was opened
    before = painter.paint_seconds
    cpu[0] += 5.0
    wall[0] += tick
    assert painter.repaint_views() == 0 and painter.paint_seconds == before


def test_snapshots_reach_the_views_the_probe_registry_names(dashboard):
    board = dashboard
    for entry in PROBES:  # every view a probe names is on the dashboard
        assert all(title in board.views for title in entry.views)
    vanishing = np.geomspace(1e-6, 1.0, 8).astype(np.float32)
    board.on_probe(
        ProbeSnapshot(
            1, 3, "time_gradients", (TimeGradient("rnn1", vanishing, vanishing[None], 0.5),)
        )
    )
    board.on_probe(ProbeSnapshot(1, 3, "layer_gradients", {"rnn1": 0.5}))
    assert list(board.gradients.time_gradients) == ["rnn1"]
    assert board.gradients.layer_series["rnn1"].x.tolist() == [3]
    # A probe that failed says so in each of its views.
    board.on_probe(ProbeSnapshot(1, 4, "classification_report", None, "No labels to compare."))
    assert board.confusion.empty_label.text() == "No labels to compare."
    assert board.predictions.empty_label.text() == "No labels to compare."
    # The probe sample goes to the views that draw it: an image to the feature maps...
    image = np.zeros((1, 8, 8), np.float32)
    board.on_probe(ProbeSnapshot(1, 0, "probe_input", ProbeInput(7, "val", image, 3)))
    assert board.feature_maps.sample_text == "val sample 7"
    # ...a sequence above the gates, whichever of the two comes first.
    trace = lstm_trace(steps=6)
    board.on_probe(ProbeSnapshot(1, 5, "gates", (trace,)))
    board.on_probe(
        ProbeSnapshot(1, 5, "probe_input", ProbeInput(2, "val", np.ones((6, 1), np.float32), 0))
    )
    board.gates.repaint_now()
    assert board.gates.input_curves[0].xData.shape == (6,)
    assert board.feature_maps.sample_text == "val sample 7"  # a sequence is no image


def lstm_trace(steps, units=3):
    from engine.probes import LayerTrace, RecurrentTrace

    names = ("input", "forget", "candidate", "output", "cell", "hidden")
    gates = {name: np.full((steps, units), 0.5, np.float32) for name in names}
    return RecurrentTrace("lstm1", "LSTM", (LayerTrace(0, 0, gates),))


def test_a_view_refuses_a_kind_it_does_not_show(dashboard):
    with pytest.raises(ValueError, match="Filters view does not show gates"):
        dashboard.filters.take_snapshot(ProbeSnapshot(1, 1, "gates", ()))


@pytest.mark.parametrize(
    ("example", "relevant", "on_top"),
    [("digits_cnn", ("Loss curves", "Feature maps", "Filters"), "Filters"),
     ("memory_lstm", ("Loss curves", "Gates", "Gradient flow"), "Gates")],
)  # fmt: skip
def test_opening_a_model_brings_its_views_forward(dashboard, qtbot, example, relevant, on_top):
    open_example(dashboard.window, "sine_lstm" if example == "digits_cnn" else "digits_cnn")
    open_example(dashboard.window, example)
    assert relevant_views(dashboard.document.spec) == relevant
    docks = dashboard.docks
    # The Train grid is chosen for the model; the views outside it are tabs behind it.
    qtbot.waitUntil(
        lambda: (
            docks[on_top].widget().is_on_screen() and docks["Loss curves"].widget().is_on_screen()
        ),
        timeout=5000,
    )
    behind = set(dashboard.views) - set(grid_views(dashboard.document.spec))
    assert not any(docks[t].widget().is_on_screen() for t in behind)


@pytest.mark.parametrize(
    ("example", "closed"),
    [("digits_cnn", {"Decision regions", "Gates", "Forecast"}),
     ("memory_lstm", {"Decision regions", "Filters", "Feature maps", "Saliency", "Predictions",
                      "Forecast"}),
     ("sine_lstm", {"Decision regions", "Filters", "Feature maps", "Saliency", "Predictions",
                    "Confusion matrix"}),
     ("moons_mlp", {"Filters", "Feature maps", "Saliency", "Gates", "Forecast"}),
     ("deep_residual", {"Filters", "Feature maps", "Saliency", "Gates", "Forecast"})],
)  # fmt: skip
def test_the_views_that_apply_follow_the_probe_registry(example, closed):
    """What Train shows as tabs: every view but those whose probes cannot run on the model
    (its blocks, its input, its dataset's task). A residual block's insides count."""
    spec = ModelSpec.load(example_path(example))
    assert set(VIEW_ORDER) - set(applying_views(spec)) == closed
    assert set(grid_views(spec)) <= set(applying_views(spec))


def test_cnn_run_from_the_panel_fills_the_views(dashboard, qtbot):
    board = dashboard
    board.panel.epochs_spin.setValue(3)
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(board.panel.train_button, qt_left_button())
    steps = finished.args[0].step
    qtbot.waitUntil(  # the last coalesced updates
        lambda: (
            board.curves.runs[-1].train_loss.size == steps
            and len(board.curves.runs[-1].val_loss.x) == 3
            and board.confusion.matrix is not None
        ),
        timeout=10_000,
    )
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
    board.panel.until_stopped_check.setChecked(True)  # it ends at Stop, below
    board.train()
    qtbot.waitUntil(lambda: bool(board.curves.runs) and board.curves.runs[-1].train_loss.size > 5,
                    timeout=RUN_TIMEOUT_MS)  # fmt: skip
    assert board.panel.progress.format().endswith("· until stopped")
    with qtbot.waitSignal(board.controller.paused_changed, timeout=10_000) as paused:
        qtbot.mouseClick(board.panel.pause_button, qt_left_button())
    assert paused.args == [True] and board.panel.pause_button.text() == "Resume"
    board.panel.lr_spin.setValue(0.01)  # edited while paused: applied at the next step
    with qtbot.waitSignal(board.controller.paused_changed, timeout=10_000):
        qtbot.mouseClick(board.panel.pause_button, qt_left_button())
    run = board.curves.runs[-1]
    qtbot.waitUntil(lambda: bool(run.markers), timeout=10_000)
    assert "lr 0.01" in run.markers[0].label.toPlainText()
    qtbot.waitUntil(lambda: board.last_step.lr == pytest.approx(0.01), timeout=10_000)
    qtbot.waitUntil(lambda: board.gates.current_trace is not None, timeout=RUN_TIMEOUT_MS)
    board.gates.repaint_now()
    steps = board.document.spec.dataset_options["seq_len"]
    units = next(b for b in board.document.spec.blocks if b.type == "lstm").params["hidden_size"]
    assert board.gates.heatmaps["forget"].shape == (steps, units)
    assert board.gates.input_curves[0].xData.shape == (steps,)  # the input, on the same t axis
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


def test_the_windows_pause_and_stop_follow_and_drive_the_run(dashboard, qtbot):
    """Train › Pause / Resume and Stop (also in the toolbar) act as the panel's buttons and
    follow their state: disabled while idle, "Resume" while paused."""
    board, window = dashboard, dashboard.window
    pause, stop = window.pause_action, window.stop_action
    assert not pause.isEnabled() and not stop.isEnabled()
    assert {pause, stop} <= set(window.toolbar.actions()) and {pause, stop} <= set(
        window.train_menu.actions()
    )
    board.panel.until_stopped_check.setChecked(True)
    board.train()
    qtbot.waitUntil(lambda: bool(board.curves.runs) and board.curves.runs[-1].train_loss.size > 5,
                    timeout=RUN_TIMEOUT_MS)  # fmt: skip
    assert pause.isEnabled() and stop.isEnabled() and pause.text() == "&Pause"
    assert not window.train_action.isEnabled()  # as the panel's Train: one run at a time
    with qtbot.waitSignal(board.controller.paused_changed, timeout=10_000) as paused:
        pause.trigger()
    assert paused.args == [True] and pause.text() == "&Resume"
    with qtbot.waitSignal(board.controller.paused_changed, timeout=10_000) as resumed:
        pause.trigger()
    assert resumed.args == [False] and pause.text() == "&Pause"
    with qtbot.waitSignal(board.controller.run_finished, timeout=10_000) as finished:
        stop.trigger()
    assert finished.args[0].stopped_early
    assert not pause.isEnabled() and not stop.isEnabled() and window.train_action.isEnabled()
