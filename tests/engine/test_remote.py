"""The training process: events cross the process boundary whole, controls reach the run, a
dying child becomes a readable failure, and the relay survives what it cannot pickle."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from types import MappingProxyType

import numpy as np
import pytest

from engine.training.events import (
    EpochMetrics,
    Failed,
    Finished,
    Paused,
    ProbeSnapshot,
    RunStarted,
    SettingsChanged,
    StepMetrics,
    keep_newest,
)
from engine.training.process import TrainingProcess
from engine.training.relay import Drained, send_drained
from engine.training.settings import SettingsError, TrainSettings
from tests.engine._train_fixtures import cnn_spec, image_data, mlp_spec, vector_data

FAST = dict(device="cpu", torch_threads=1, batch_size=8)


def collect(run: TrainingProcess, until, timeout: float = 20.0) -> Drained:
    """Drain ``run`` until ``until(all so far)`` holds; fails the test after ``timeout``."""
    got = Drained()
    deadline = time.monotonic() + timeout
    while not until(got):
        assert time.monotonic() < deadline, f"timed out; got {[type(e) for e in got.events]}"
        got = got.then(run.drain(wait=0.05))
    return got


def ended(got: Drained) -> bool:
    return any(isinstance(e, Finished | Failed) for e in got.events)


def test_a_run_in_the_child_reports_every_step_its_probes_and_its_weights():
    run = TrainingProcess(cnn_spec(), image_data(n=96), TrainSettings(epochs=2, **FAST))
    got = collect(run, ended)
    assert run.wait(5.0) and run.process.exitcode == 0
    assert isinstance(got.events[0], RunStarted)
    assert [s.step for s in got.steps] == list(range(1, len(got.steps) + 1))
    assert [type(e) for e in got.events[1:]] == [EpochMetrics, EpochMetrics, Finished]
    finished = got.events[-1]
    assert finished.epochs_done == 2 and set(finished.probe_costs) <= set(got.probes) | {
        "layer_gradients", "activation_histograms", "classification_report"
    }  # fmt: skip
    # Conv weights train channels-last in the child; what comes out is plain C-ordered numpy.
    kernel = finished.weights["conv1.weight"]
    assert kernel.shape == (4, 1, 3, 3) and kernel.flags.c_contiguous


def test_probe_results_with_read_only_mappings_cross_the_boundary():
    run = TrainingProcess(
        cnn_spec(),
        image_data(n=96),
        TrainSettings(epochs=3, probe_intervals={"layer_gradients": 0.0}, **FAST),
    )
    got = collect(run, ended)
    norms = got.probes["layer_gradients"].data
    assert isinstance(norms, MappingProxyType) and norms
    assert all(np.isfinite(v) for v in norms.values())


def test_pause_settings_resume_and_stop_reach_the_child():
    run = TrainingProcess(mlp_spec(), vector_data(n=4000), TrainSettings(epochs=50, **FAST))
    got = collect(run, lambda g: len(g.steps) > 0)
    run.request_pause()
    got = got.then(collect(run, lambda g: any(isinstance(e, Paused) for e in g.events)))
    paused = next(e for e in got.events if isinstance(e, Paused))
    run.update_settings(lr=0.05)
    got = got.then(collect(run, lambda g: any(isinstance(e, SettingsChanged) for e in g.events)))
    # Paused means paused: the change was applied at the step the run paused at, no later.
    change = next(e for e in got.events if isinstance(e, SettingsChanged))
    assert change.step == paused.step == got.steps[-1].step
    run.request_resume()
    later = collect(run, lambda g: len(g.steps) > 3)
    assert later.steps[0].step == paused.step + 1 and later.steps[-1].lr == 0.05
    run.request_stop()
    last = collect(run, ended)
    assert last.events[-1].stopped_early
    assert run.wait(5.0)


def test_a_bad_setting_is_refused_in_the_parent_at_once():
    data = image_data(n=96)
    run = TrainingProcess(cnn_spec(), data, TrainSettings(epochs=50, **FAST))
    with pytest.raises(SettingsError, match="lr must be a positive number"):
        run.update_settings(lr=-1.0)
    with pytest.raises(SettingsError):
        run.update_settings(probe_sample_index=len(data.x_val))
    run.request_stop()
    assert run.wait(10.0)


def test_a_child_that_dies_becomes_a_failure_the_user_can_read():
    run = TrainingProcess(mlp_spec(), vector_data(n=4000), TrainSettings(epochs=500, **FAST))
    collect(run, lambda g: len(g.steps) > 0)
    os.kill(run.pid, signal.SIGKILL)
    got = collect(run, ended)
    failed = got.events[-1]
    assert isinstance(failed, Failed) and "was killed (signal 9)" in failed.message
    assert "Press Train" in failed.message and run.ended


def test_kill_ends_a_run_that_does_not_stop_in_time():
    run = TrainingProcess(mlp_spec(), vector_data(n=4000), TrainSettings(epochs=500, **FAST))
    collect(run, lambda g: len(g.steps) > 0)
    assert not run.wait(0.05)  # still training
    run.kill()
    assert run.process.exitcode is not None and run.ended
    failed = run.drain().events[-1]
    assert isinstance(failed, Failed) and "did not stop within its time limit" in failed.message


def test_an_unpicklable_probe_result_becomes_that_views_message():
    receiver, sender = multiprocessing.Pipe(duplex=False)
    batch = Drained(
        steps=[StepMetrics(1, 1, 1, 0.5, 0.1, 10.0, None)],
        probes={
            "filters": ProbeSnapshot(1, 1, "filters", np.zeros(3)),
            "gates": ProbeSnapshot(1, 1, "gates", lambda: None),  # pickle refuses a lambda
        },
    )
    send_drained(sender, batch)
    got = receiver.recv()
    assert got.steps == batch.steps and got.probes["filters"].data.shape == (3,)
    assert got.probes["gates"].data is None
    assert "gates view cannot show this run" in got.probes["gates"].error


def test_drained_batches_keep_order_and_the_newest_probe_of_a_kind():
    first = Drained(
        [StepMetrics(1, 1, 1, 0.5, 0.1, 1.0, None)], [], {"a": ProbeSnapshot(1, 1, "a", 1)}
    )
    second = Drained(
        [StepMetrics(1, 2, 1, 0.5, 0.1, 1.0, None)],
        [EpochMetrics(1, 1, 2, 0.5, 0.4)],
        {"b": ProbeSnapshot(1, 2, "b", 2), "a": ProbeSnapshot(1, 2, "a", 3)},
    )
    merged = first.then(second)
    assert [s.step for s in merged.steps] == [1, 2] and len(merged.events) == 1
    assert list(merged.probes) == ["b", "a"] and merged.probes["a"].data == 3


def test_keep_newest_replaces_a_kind_and_moves_it_to_the_end():
    probes = {}
    keep_newest(probes, [ProbeSnapshot(1, 1, "a", 1), ProbeSnapshot(1, 1, "b", 2)])
    keep_newest(probes, [ProbeSnapshot(1, 2, "a", 3)])
    assert list(probes) == ["b", "a"] and probes["a"].data == 3


def test_a_probe_sample_the_parent_could_not_check_is_refused_by_the_child():
    # The dataset is loaded in the child, so only the child knows its size.
    run = TrainingProcess(
        mlp_spec(),
        "moons",
        TrainSettings(epochs=200, **FAST),
        dataset_options={"n_samples": 400},
    )
    collect(run, lambda g: len(g.steps) > 0)
    run.update_settings(probe_sample_index=10_000)
    got = collect(run, lambda g: "probe_input" in g.probes and g.probes["probe_input"].error)
    assert "10000" in got.probes["probe_input"].error
    run.request_stop()
    assert run.wait(10.0)


def test_gpu_runs_spawn_a_fresh_interpreter_and_cpu_runs_fork_on_linux(monkeypatch):
    from engine.training import process as remote

    assert remote.process_context(cpu=False).get_start_method() == "spawn"
    if sys.platform.startswith("linux"):
        assert remote.process_context(cpu=True).get_start_method() == "forkserver"
    # The spawn path (GPU runs; every run on macOS and Windows) trains for real too.
    monkeypatch.setattr(remote, "runs_on_cpu", lambda device: False)
    run = TrainingProcess(mlp_spec(), vector_data(), TrainSettings(epochs=1, **FAST))
    got = collect(run, ended, timeout=60.0)
    assert isinstance(got.events[-1], Finished) and got.events[-1].epochs_done == 1
    assert run.wait(10.0)


def test_a_run_that_cannot_start_is_a_failure_with_the_reason():
    from dataclasses import replace

    data = replace(vector_data(), options={"made by": lambda: None})  # pickle refuses a lambda
    run = TrainingProcess(mlp_spec(), data, TrainSettings(epochs=1, **FAST))
    got = collect(run, ended)
    failed = got.events[-1]
    assert isinstance(failed, Failed) and "could not start the training process" in failed.message
    assert "lambda" in failed.message and run.wait(1.0)
