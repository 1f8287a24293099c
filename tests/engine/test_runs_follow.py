"""Following a run folder while it is written: RunReader's polls add up to the whole run, a
real `python main.py train` appending meanwhile; bad and half-written files are sentences."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.model.examples import example_path
from engine.probes.snapshots import FilterSet
from engine.runs.folder import (
    METRICS_JSONL,
    RUN_FORMAT,
    RunFolderError,
    read_metrics,
    write_json_atomic,
)
from engine.runs.follow import TORN_POLLS, RunReader, epoch_event, settings_event, step_event
from engine.runs.probe_files import read_probes, write_probe

ROOT = Path(__file__).resolve().parents[2]


def train_cli(folder: Path, epochs: int) -> subprocess.Popen:
    """The sine LSTM with its probes: ~2 s an epoch on one thread, so polls land mid-run."""
    return subprocess.Popen(
        [sys.executable, "main.py", "train", str(example_path("sine_lstm")), "--epochs",
         str(epochs), "--run-dir", str(folder), "--device", "cpu", "--threads", "1",
         "--quiet", "--probes"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_polls_add_up_to_the_whole_run_while_main_py_train_writes_it(tmp_path):
    folder = tmp_path / "run"
    proc = train_cli(folder, 3)
    reader = RunReader(folder)
    steps, epochs, probes, statuses, growing = [], [], {}, [], 0
    try:
        deadline = time.monotonic() + 180
        while True:
            assert time.monotonic() < deadline, "the run did not finish in 180 s"
            try:
                update = reader.poll()
            except RunFolderError:  # run.json not written yet: the run is starting
                assert proc.poll() is None, proc.communicate()[1]
                continue
            assert not update.problems, update.problems
            if update.info is not None:
                statuses.append(update.info.status)
            if update.steps and reader.running:
                growing += 1
            steps += update.steps
            epochs += update.epochs
            probes.update(update.probes)
            if not reader.running:
                break
            time.sleep(0.05)  # a poll interval, as the window's timer has; not a wait for data
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert statuses[0] == "running" and statuses[-1] == "finished"
    assert growing >= 2, "the records did not arrive over several polls while the run went on"
    whole = read_metrics(folder)
    assert steps == whole.steps  # each record exactly once, in order, none lost at a poll edge
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    saved, problems = read_probes(folder)
    assert not problems
    assert set(probes) == set(saved)
    assert all(probes[k][0] == saved[k][0] for k in saved)  # the newest snapshot of each kind
    assert reader.poll().empty  # nothing more once the run is over


# ---------------------------------------------------------------- a run folder by hand


def run_json(folder: Path, **extra) -> None:
    data = {"format": RUN_FORMAT, "version": 1, "status": "finished", "epochs_done": 1, **extra}
    write_json_atomic(folder / "run.json", data)


def step_line(step: int, loss: float = 1.0) -> str:
    return json.dumps({"type": "step", "step": step, "epoch": 1, "loss": loss, "lr": 0.1}) + "\n"


def append(folder: Path, text: str) -> None:
    with open(folder / METRICS_JSONL, "a", encoding="utf-8") as fh:
        fh.write(text)


def test_a_line_without_its_newline_waits_for_the_next_poll(tmp_path):
    run_json(tmp_path)
    append(tmp_path, step_line(1) + step_line(2)[:15])
    reader = RunReader(tmp_path)
    assert [r["step"] for r in reader.poll().steps] == [1]
    append(tmp_path, step_line(2)[15:] + step_line(3))
    update = reader.poll()
    assert [r["step"] for r in update.steps] == [2, 3] and not update.problems


def test_a_corrupt_line_is_skipped_and_named_once(tmp_path):
    run_json(tmp_path)
    append(tmp_path, step_line(1) + '{"type": "step", "st\n' + step_line(2))
    reader = RunReader(tmp_path)
    update = reader.poll()
    assert [r["step"] for r in update.steps] == [1, 2]
    (problem,) = update.problems
    assert "metrics.jsonl' line 2" in problem and "skipped" in problem
    append(tmp_path, step_line(3))
    update = reader.poll()
    assert [r["step"] for r in update.steps] == [3] and not update.problems


def test_a_metrics_file_cut_shorter_is_read_again_whole(tmp_path):
    run_json(tmp_path)
    append(tmp_path, step_line(1) + step_line(2) + step_line(3))
    reader = RunReader(tmp_path)
    reader.poll()
    (tmp_path / METRICS_JSONL).write_text(step_line(1))  # a resume dropped steps 2 and 3
    update = reader.poll()
    assert update.restarted and [r["step"] for r in update.steps] == [1]


def test_a_resumed_run_is_read_again_from_the_start(tmp_path):
    run_json(tmp_path, segments=[{"first_step": 0}])
    append(tmp_path, step_line(1) + step_line(2))
    reader = RunReader(tmp_path)
    reader.poll()
    # Resumed from step 1: step 2 dropped, and the new steps already past the old length.
    (tmp_path / METRICS_JSONL).write_text(step_line(1) + step_line(2, 0.5) + step_line(3))
    run_json(tmp_path, segments=[{"first_step": 0}, {"first_step": 1}])
    update = reader.poll()
    assert update.restarted and [r["loss"] for r in update.steps] == [1.0, 0.5, 1.0]


def test_run_json_is_reported_only_when_it_changes(tmp_path):
    run_json(tmp_path, status="running", pid=os.getpid(), host=socket.gethostname())
    reader = RunReader(tmp_path)
    assert reader.poll().info.status == "running" and reader.running
    assert reader.poll().info is None
    run_json(tmp_path, status="finished", epochs_done=2)
    update = reader.poll()
    assert update.info.status == "finished" and update.info.get("epochs_done") == 2
    assert not reader.running


def test_a_run_json_of_a_newer_version_is_a_sentence_naming_the_file(tmp_path):
    write_json_atomic(tmp_path / "run.json", {"format": RUN_FORMAT, "version": 99})
    with pytest.raises(RunFolderError, match=r"run\.json' was written by a newer LayerLab"):
        RunReader(tmp_path).poll()


def test_a_folder_that_is_not_a_run_is_a_sentence(tmp_path):
    with pytest.raises(RunFolderError, match="has no run.json"):
        RunReader(tmp_path).poll()


def filters(level: float) -> FilterSet:
    return FilterSet("conv1", np.full((2, 1, 3, 3), level, np.float32), level)


def test_a_torn_probe_pair_is_retried_and_a_lasting_one_named(tmp_path):
    run_json(tmp_path)
    write_probe(tmp_path, "filters", 10, filters(1.0), None)
    old_json = (tmp_path / "probes" / "filters.json").read_text()
    write_probe(tmp_path, "filters", 20, filters(2.0), None)
    # The npz of step 20 beside the JSON of step 10: what a reader sees between the writes.
    (tmp_path / "probes" / "filters.json").write_text(old_json)
    reader = RunReader(tmp_path)
    update = reader.poll()
    assert "filters" not in update.probes and not update.problems  # retried, not yet named
    write_probe(tmp_path, "filters", 30, filters(3.0), None)  # the writer goes on: whole again
    step, data, error = reader.poll().probes["filters"]
    assert step == 30 and error is None and float(data.weights[0, 0, 0, 0]) == 3.0
    assert reader.poll().probes == {}  # unchanged files are not read again

    (tmp_path / "probes" / "filters.json").write_text(old_json)  # torn for good (a crash)
    said = []
    for _ in range(TORN_POLLS + 2):
        update = reader.poll()
        assert "filters" not in update.probes
        said += update.problems
    (problem,) = said  # named once
    assert "filters.json' and its .npz are of different snapshots" in problem


def test_records_become_the_events_the_views_take():
    step = step_event(7, {"type": "step", "step": 5, "epoch": 1, "loss": None, "lr": 0.1,
                          "accuracy": 0.5, "samples_per_second": 10.0})  # fmt: skip
    assert step.run_id == 7 and step.step == 5 and np.isnan(step.loss) and step.accuracy == 0.5
    assert step_event(7, {"type": "step", "epoch": 1}) is None  # no step: not drawn
    epoch = epoch_event(7, {"type": "epoch", "epoch": 2, "step": 10, "train_loss": 0.5,
                            "val_loss": 0.4, "val_mae": 0.1})  # fmt: skip
    assert (epoch.epoch, epoch.step, epoch.val_mae, epoch.val_accuracy) == (2, 10, 0.1, None)
    marker = settings_event(7, {"type": "settings", "step": 3, "changes": {"lr": 0.01}})
    assert marker.step == 3 and dict(marker.changes) == {"lr": 0.01}
    assert settings_event(7, {"type": "paused", "step": 3, "paused": True}) is None


def test_following_a_run_imports_no_torch():
    code = "import sys, engine.runs.follow, engine.runs.probe_files; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
