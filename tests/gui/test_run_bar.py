"""The Train workspace's run bar: it shows the training panel's progress, the run's speed or
message (an error in red), and its learning rate, gradient clip and probe sample are the panel's
own, both ways: typed in the bar during a run they are the panel's live edits, and what the
panel shows (a schedule's rate, a clicked sample, a project's settings) shows in the bar."""

from __future__ import annotations

from PySide6.QtGui import QAction

from engine.training.events import Failed, RunStarted, StepMetrics
from gui.training.panel import TrainingPanel
from gui.training.run_bar import RunBar


def _bar(qtbot) -> tuple[TrainingPanel, RunBar]:
    panel = TrainingPanel()
    bar = RunBar(panel, QAction("Settings"))
    qtbot.addWidget(panel)
    qtbot.addWidget(bar)
    return panel, bar


def _start(panel: TrainingPanel) -> None:
    panel.run_requested()
    panel.run_started(RunStarted(1, "CNN", "digits", "cpu", 10, 50, {}))


def test_the_bar_shows_the_panels_progress_and_its_speed_or_message(qtbot):
    panel, bar = _bar(qtbot)
    panel.set_dataset("digits")
    assert bar.message.text() == panel.message == "Press Train to train this model on " \
        "Handwritten digits 8×8."  # fmt: skip
    _start(panel)
    assert bar.progress.format() == "epoch 1/10 · step 0/500"
    panel.steps_received([StepMetrics(1, 120, 3, 0.25, 0.003, 4000.0, 9.0)])
    assert (bar.progress.value(), bar.progress.maximum()) == (120, 500)
    assert bar.progress.format() == "epoch 3/10 · step 120/500"
    assert bar.message.text() == panel.speed == "4,000 samples/s · ETA 0:09 · loss 0.25"
    panel.paused_changed(True)
    assert bar.message.text() == "Paused. Resume to go on, or Stop."
    assert not bar.message.property("error")
    panel.run_failed(Failed(1, 121, "The loss became NaN at step 121."))
    assert bar.message.text() == "The loss became NaN at step 121."
    assert bar.message.property("error") and "#b2182b" in bar.message.styleSheet()
    assert bar.progress.format() == "failed"


def test_a_value_typed_in_the_bar_is_the_panels_live_edit(qtbot):
    panel, bar = _bar(qtbot)
    lrs, clips, samples = [], [], []
    panel.lr_edited.connect(lrs.append)
    panel.grad_clip_edited.connect(clips.append)
    panel.probe_sample_changed.connect(samples.append)
    bar.lr_spin.setValue(0.01)  # idle: the next run's setting, sent nowhere
    assert panel.lr_spin.value() == 0.01 and lrs == []
    _start(panel)
    bar.lr_spin.setValue(0.001)
    bar.clip_spin.setValue(1.0)
    bar.sample_spin.setValue(7)
    assert (lrs, clips, samples) == ([0.001], [1.0], [7])
    assert panel.settings()["lr"] == 0.001 and panel.grad_clip == 1.0
    bar.clip_spin.setValue(0.0)
    assert clips == [1.0, None] and bar.clip_spin.text() == "off"


def test_what_the_panel_shows_the_bar_shows_without_sending_it_back(qtbot):
    panel, bar = _bar(qtbot)
    _start(panel)
    edits = []
    panel.lr_edited.connect(edits.append)
    # A schedule moved the rate: both show it, and nothing is sent to the run as an edit.
    panel.steps_received([StepMetrics(1, 10, 1, 0.5, 0.0015, 100.0, 5.0)])
    assert bar.lr_spin.value() == panel.lr_spin.value() == 0.0015
    assert edits == []
    # A sample clicked in the Dataset panel, a project's settings.
    panel.sample_spin.setValue(12)
    assert bar.sample_spin.value() == 12
    panel.set_settings({"grad_clip": 0.5})
    assert bar.clip_spin.value() == 0.5
    # The bar's fields are set up as the panel's: the same range, and "off" for no clipping.
    assert bar.clip_spin.specialValueText() == "off"
    assert bar.lr_spin.decimals() == panel.lr_spin.decimals()
    assert bar.sample_spin.maximum() == panel.sample_spin.maximum()
