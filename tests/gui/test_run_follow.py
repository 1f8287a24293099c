"""File › Open Run: a run folder's curves and saved probe snapshots in the views, followed
live while `python main.py train` writes it; a bad folder is a sentence; Train ends following;
a project opens with its newest run in the views."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from engine.probes.snapshots import FilterSet, Histogram
from engine.project import RUNS_FOLDER
from engine.runs.folder import METRICS_JSONL, RUN_FORMAT, read_metrics, write_json_atomic
from engine.runs.probe_files import read_probes, write_probe
from gui.runs.follow import MAX_STEPS_SHOWN
from tests.engine.test_runs_follow import train_cli

RUN_TIMEOUT_MS = 120_000
ROOT = Path(__file__).resolve().parents[2]


def hand_made_run(folder, status="finished", steps=5, **extra):
    """A small run folder written as the recorder writes one."""
    folder.mkdir(parents=True)
    write_json_atomic(folder / "run.json", {
        "format": RUN_FORMAT, "version": 1, "status": status, "model_name": "tiny",
        "pid": os.getpid(), "host": socket.gethostname(), "epochs_done": 0, "total_epochs": 3,
        **extra,
    })  # fmt: skip
    with open(folder / METRICS_JSONL, "w", encoding="utf-8") as fh:
        for step in range(1, steps + 1):
            fh.write(json.dumps({"type": "step", "step": step, "epoch": 1, "loss": 1 / step,
                                 "lr": 0.1, "accuracy": 0.5}) + "\n")  # fmt: skip
    return folder


def shown_steps(board) -> np.ndarray:
    return board.curves.runs[-1].train_loss.x if board.curves.runs else np.array([])


def test_follows_a_run_that_main_py_train_writes(make_app_window, qtbot, tmp_path):
    w = make_app_window("sine_lstm")
    board, follower = w.dashboard, w.dashboard.follower
    folder = tmp_path / "run"
    proc = train_cli(folder, 4)
    try:
        qtbot.waitUntil(lambda: (folder / "run.json").exists(), timeout=RUN_TIMEOUT_MS)
        assert w.files.open_path(folder)  # a run folder opens as a run: the model stays
        assert follower.following and w.files.stop_following_action.isEnabled()
        assert follower.status_text.startswith(f"Following {folder.name} — written by pid ")
        first = len(shown_steps(board))
        qtbot.waitUntil(lambda: len(shown_steps(board)) > first, timeout=RUN_TIMEOUT_MS)
        assert follower.following  # points arrived while the run was still going
        qtbot.waitUntil(lambda: board.gates.current_trace is not None, timeout=RUN_TIMEOUT_MS)
        qtbot.waitUntil(lambda: not follower.following, timeout=RUN_TIMEOUT_MS)
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "finished, epoch 4/4" in follower.status_text
    assert not w.files.stop_following_action.isEnabled()
    steps = [r["step"] for r in read_metrics(folder).steps]
    assert shown_steps(board).tolist() == steps  # every step, once, as written
    assert not follower.following  # its poll timer stopped with the run
    assert board.curves.runs[-1].label.startswith(f"{folder.name} · ")
    assert w.document.spec.name.startswith("LSTM")  # the model was not replaced


def test_open_run_on_a_bad_folder_says_why_and_keeps_the_views(
    make_app_window, answers, monkeypatch, tmp_path
):
    w = make_app_window()
    board = w.dashboard
    good = hand_made_run(tmp_path / "good")
    assert w.files.open_run_folder(good)
    assert shown_steps(board).tolist() == [1, 2, 3, 4, 5] and not board.follower.following
    assert "Showing good — finished" in w.statusBar().currentMessage()
    runs = len(board.curves.runs)

    newer = tmp_path / "newer"
    newer.mkdir()
    write_json_atomic(newer / "run.json", {"format": RUN_FORMAT, "version": 7})
    not_a_run = tmp_path / "plain"
    not_a_run.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(not_a_run))
    assert not w.files.open_path(newer / "run.json")  # File › Open on its run.json
    assert not w.files.open_run()  # File › Open Run… on a folder without run.json
    assert "run.json' was written by a newer LayerLab" in answers.errors[0]
    assert "is not a LayerLab run folder: it has no run.json" in answers.errors[1]
    assert len(board.curves.runs) == runs and board.follower.folder == good
    assert shown_steps(board).tolist() == [1, 2, 3, 4, 5]


def test_train_and_stop_following_end_following(make_app_window, qtbot, tmp_path):
    w = make_app_window("moons_mlp")
    board, follower = w.dashboard, w.dashboard.follower
    # Written by this process (its pid is alive): a run still running, as far as files go.
    running = hand_made_run(tmp_path / "live", status="running")
    board.show_run(running)
    assert follower.following
    w.files.stop_following_action.trigger()
    assert not follower.following and "Showing live — running" in follower.status_text

    board.show_run(running)
    assert follower.following
    board.panel.set_settings({"epochs": 1})
    board.settings_overrides = {"probes": False}
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
        assert not follower.following  # at once: the views show the window's own run
    assert board.curves.runs[-1].label.startswith("run ")


def test_a_reopened_project_shows_its_newest_run_and_saved_snapshots(
    make_app_window, qtbot, monkeypatch, tmp_path
):
    w = make_app_window()
    board = w.dashboard
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "p.layerlab"), "")
    )
    assert w.files.save()
    board.panel.set_settings({"epochs": 2, "batch_size": 64})
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
    live = board.curves.runs[-1]
    live_steps, live_loss = live.train_loss.x.copy(), live.train_loss.y.copy()
    live_val = live.val_loss.y.copy()
    assert w.files.save()
    (run,) = (tmp_path / "p.layerlab" / RUNS_FOLDER).iterdir()
    saved, problems = read_probes(run)
    assert "filters" in saved and not problems

    fresh = make_app_window("moons_mlp")
    assert fresh.files.open_path(tmp_path / "p.layerlab")
    shown = fresh.dashboard.curves.runs[-1]
    assert np.array_equal(shown.train_loss.x, live_steps)
    assert np.array_equal(shown.train_loss.y, live_loss)  # the same points, one for one
    assert np.array_equal(shown.val_loss.y, live_val)
    assert not fresh.dashboard.follower.following  # a finished run is shown, not followed
    current = fresh.dashboard.filters.current
    expected = {s.block_id: s for s in saved["filters"][1]}[current.block_id]
    assert np.array_equal(current.weights, expected.weights)
    assert f"Showing {run.name} — finished" in fresh.dashboard.follower.status_text


def test_showing_a_long_run_is_thinned_keeps_its_peaks_and_is_fast(make_app_window, tmp_path):
    folder = hand_made_run(tmp_path / "long", steps=0)
    rng = np.random.default_rng(0)
    loss = rng.uniform(0.5, 1.0, 200_000)
    loss[123_457] = 40.0  # one diverging step
    with open(folder / METRICS_JSONL, "w", encoding="utf-8") as fh:
        fh.writelines(
            f'{{"type": "step", "step": {i + 1}, "epoch": 1, "loss": {v}, "lr": 0.1}}\n'
            for i, v in enumerate(loss)
        )
    w = make_app_window("moons_mlp")
    started = time.perf_counter()
    w.dashboard.show_run(folder)
    w.dashboard.repaint_all()
    seconds = time.perf_counter() - started
    shown = w.dashboard.curves.runs[-1].train_loss
    assert shown.size <= 2 * MAX_STEPS_SHOWN and shown.y.max() == 40.0
    assert shown.x[0] == 1 and shown.x[-1] == 200_000
    print(f"shown in {seconds:.2f} s")
    assert seconds < 5.0, f"showing a 200,000-step run took {seconds:.2f} s"


def test_following_a_run_in_the_window_imports_no_torch(tmp_path):
    """The window shows a run's curves and probe views with no torch in its process."""
    folder = hand_made_run(tmp_path / "run")
    write_probe(
        folder, "filters", 5, (FilterSet("c", np.ones((2, 1, 3, 3), np.float32), 1.0),), None
    )
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from gui.app import open_window\n"
        "app, window = open_window()\n"
        f"window.dashboard.show_run({str(folder)!r})\n"
        "window.dashboard.repaint_all()\n"
        "assert window.dashboard.filters.current is not None\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_a_snapshot_its_view_cannot_take_is_a_sentence(make_app_window, tmp_path):
    folder = hand_made_run(tmp_path / "odd")
    # A whole, readable file whose content is not what the filters view draws.
    write_probe(folder, "filters", 5, Histogram("c", np.ones(3), np.arange(4.0), 0), None)
    w = make_app_window()
    w.dashboard.show_run(folder)
    (problem,) = w.dashboard.follower.problems
    assert problem.startswith("The saved filters snapshot in ") and "skipped" in problem
    assert shown_steps(w.dashboard).tolist() == [1, 2, 3, 4, 5]  # the rest is shown


def test_a_distributed_run_shows_its_processes_and_throughput(make_app_window, tmp_path):
    """A run that `--nproc 2` is writing (rank 0's run.json says how many processes train it)
    is followed with their number and the newest samples/s; a run until stopped has no end."""
    folder = hand_made_run(tmp_path / "ddp", status="running", processes=2, total_epochs=None)
    with open(folder / METRICS_JSONL, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"type": "step", "step": 6, "epoch": 1, "loss": 0.1, "lr": 0.1,
                             "samples_per_second": 5120.0}) + "\n")  # fmt: skip
    w = make_app_window("moons_mlp")
    w.dashboard.show_run(folder)
    follower = w.dashboard.follower
    assert follower.following
    assert "(2 processes), epoch 0 (until stopped), 5,120 samples/s." in follower.status_text
    follower.stop()


def test_a_recorded_run_of_another_model_opens_the_views_it_fills(make_app_window, qtbot, tmp_path):
    """Filters are closed beside an LSTM (they cannot show it); a CNN's run opened with File ›
    Open Run brings filters, and their view opens as a tab behind the grid."""
    w = make_app_window("memory_lstm")
    w.workspaces.show("train")
    docks = w.dashboard.docks
    qtbot.waitUntil(lambda: docks["Gates"].isVisible(), timeout=5000)
    assert docks["Filters"].isHidden()
    folder = hand_made_run(tmp_path / "run")
    write_probe(
        folder, "filters", 5, (FilterSet("c", np.ones((2, 1, 3, 3), np.float32), 1.0),), None
    )
    from engine.probes.snapshots import ClassificationReport

    report = ClassificationReport(
        np.eye(2, dtype=np.int64), np.zeros(2), np.ones(2, bool), np.ones(2), 1.0
    )
    write_probe(folder, "classification_report", 5, report, None)
    w.dashboard.show_run(folder)
    assert docks["Filters"].isVisible() and w.tabifiedDockWidgets(docks["Filters"])
    assert docks["Feature maps"].isHidden()  # no data: still closed
    # The report also fills Predictions, which cannot draw an LSTM's sequences; the open
    # Confusion matrix shows it, so Predictions stays closed and no cell's view is covered.
    assert docks["Predictions"].isHidden()
    qtbot.waitUntil(lambda: docks["Gates"].widget().is_on_screen(), timeout=5000)
