"""The TrainingController: a run in its own process, its events as coalesced signals on the GUI
thread, pause/resume/lr, clean stops."""

from __future__ import annotations

import time

import pytest

from engine.training.events import StepMetrics
from engine.training.relay import EventBuffer
from engine.training.settings import TrainSettings
from gui.training import UPDATE_HZ, TrainingController
from tests.engine._train_fixtures import cnn_spec, image_data, mlp_spec, vector_data

# Every test here fails if it leaves a window, a thread or a training process behind.
pytestmark = pytest.mark.usefixtures("leak_check")


def settings(**kw):
    return TrainSettings(**{"device": "cpu", "batch_size": 8, "probes": False, **kw})


@pytest.fixture
def controller(qtbot):
    ctrl = TrainingController()
    record = {
        "steps": [],
        "batches": [],
        "times": [],
        "epochs": [],
        "probes": [],
        "paused": [],
        "changes": [],
        "finished": [],
        "failed": [],
    }
    ctrl.steps_received.connect(
        lambda s: (
            record["steps"].extend(s),
            record["batches"].append(len(s)),
            record["times"].append(time.perf_counter()),
        )
    )
    ctrl.epoch_finished.connect(record["epochs"].append)
    ctrl.probe_updated.connect(record["probes"].append)
    ctrl.paused_changed.connect(record["paused"].append)
    ctrl.settings_changed.connect(record["changes"].append)
    ctrl.run_finished.connect(record["finished"].append)
    ctrl.run_failed.connect(record["failed"].append)
    ctrl.record = record
    yield ctrl
    assert ctrl.shutdown()


def test_buffer_keeps_every_step_and_only_the_newest_probe():
    from engine.training.events import EpochMetrics, ProbeSnapshot

    buf = EventBuffer()
    for step in range(1, 4):
        buf.on_event(StepMetrics(1, step, 1, 0.5, 0.1, 1.0, None))
        buf.on_event(ProbeSnapshot(1, step, "filters", step))
    buf.on_event(EpochMetrics(1, 1, 3, 0.5, 0.4))
    buf.on_event(StepMetrics(1, 4, 2, 0.5, 0.1, 1.0, None))
    drained = buf.drain()
    assert [s.step for s in drained.steps] == [1, 2, 3, 4]
    assert [type(e).__name__ for e in drained.events] == ["EpochMetrics"]
    assert drained.probes["filters"].data == 3
    assert buf.drain().empty


def test_run_delivers_every_step_at_a_bounded_rate(qtbot, controller):
    data = vector_data(n=960)
    controller.start(mlp_spec(), data, settings(epochs=8))
    assert controller.is_running
    with qtbot.waitSignal(controller.run_finished, timeout=30_000):
        pass
    rec = controller.record
    assert [s.step for s in rec["steps"]] == list(range(1, 8 * 90 + 1))  # nothing lost
    assert len(rec["epochs"]) == 8 and not rec["failed"]
    # Coalesced: far fewer deliveries than steps, and never faster than the timer allows.
    assert len(rec["batches"]) < len(rec["steps"]) / 5
    # (A late timer tick may be followed closely by an on-time one, so count per second.)
    times = rec["times"]
    busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert busiest <= UPDATE_HZ + 2
    assert not controller.is_running
    assert rec["finished"][0].weights


def test_pause_set_lr_resume(qtbot, controller):
    controller.start(mlp_spec(), vector_data(n=4000), settings(epochs=50, lr=0.01))
    qtbot.waitUntil(lambda: len(controller.record["steps"]) > 0, timeout=10_000)
    controller.pause()
    with qtbot.waitSignal(controller.paused_changed, timeout=5000) as blocker:
        pass
    assert blocker.args == [True] and controller.is_paused
    controller.set_lr(0.123)
    qtbot.waitUntil(lambda: bool(controller.record["changes"]), timeout=5000)
    assert controller.record["changes"][0].changes == {"lr": 0.123}
    # Paused means paused: the change was applied at the last step delivered before the pause.
    paused_at = controller.record["steps"][-1].step
    assert controller.record["changes"][0].step == paused_at
    controller.resume()
    qtbot.waitUntil(lambda: controller.record["steps"][-1].step > paused_at, timeout=5000)
    assert controller.record["steps"][-1].lr == 0.123
    assert controller.record["paused"] == [True, False]


def test_stop_and_restart_end_the_old_process_quickly(qtbot, controller):
    controller.start(cnn_spec(), image_data(n=2000), settings(epochs=100, probes=True))
    qtbot.waitUntil(lambda: len(controller.record["steps"]) > 0, timeout=10_000)
    first = controller.process
    started = time.perf_counter()
    second = controller.start(mlp_spec(), vector_data(), settings(epochs=1))
    assert time.perf_counter() - started < 2.0
    assert controller.record["finished"][0].stopped_early  # the old run's end was delivered
    # The old child ended by itself after Stop (it was not killed) before the new one began.
    assert first.process.exitcode == 0 and controller.process is not first
    with qtbot.waitSignal(controller.run_finished, timeout=10_000) as blocker:
        pass
    assert blocker.args[0].run_id == second and not blocker.args[0].stopped_early


def test_failure_reaches_the_gui_as_run_failed(qtbot, controller):
    controller.start(cnn_spec(), vector_data(), settings(epochs=1))
    with qtbot.waitSignal(controller.run_failed, timeout=10_000) as blocker:
        pass
    assert "set the Input block" in blocker.args[0].message
    qtbot.waitUntil(lambda: not controller.is_running, timeout=5000)


def test_dataset_is_loaded_in_the_training_process(qtbot, controller):
    controller.start(mlp_spec(), "moons", settings(epochs=1), dataset_options={"n_samples": 50})
    with qtbot.waitSignal(controller.run_finished, timeout=20_000) as blocker:
        pass
    assert blocker.args[0].epochs_done == 1
