"""A crash loses at most the last second of the weights (or the epoch in progress, when epochs
are longer): `python main.py train` killed with SIGKILL mid-run leaves a run that reads as
interrupted, whose last checkpoint is whole and of an epoch that ended at most a checkpoint
gap before the last one that finished, and that `--resume` continues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.model.examples import example_path
from engine.runs.checkpoint import read_checkpoint
from engine.runs.folder import read_metrics, read_run
from engine.runs.recorder import CHECKPOINT_SECONDS
from tests.engine._train_fixtures import wait_for_epochs

ROOT = Path(__file__).resolve().parents[2]
# The digits CNN at batch 8 on one thread: epochs of ~0.3-1 s, so the kill lands mid-run.
TRAIN = ["--device", "cpu", "--batch-size", "8", "--threads", "1", "--quiet"]


def _train(*argv) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "main.py", "train", *map(str, argv), *TRAIN],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_run_reads_as_interrupted_and_resumes_from_its_last_epoch(tmp_path):
    folder = tmp_path / "run"
    proc = _train(example_path("digits_cnn"), "--epochs", "50", "--run-dir", folder)
    try:
        wait_for_epochs(proc, folder, 2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    info = read_run(folder)
    assert info.status == "interrupted"
    metrics = read_metrics(folder)
    assert not metrics.problems  # at most a last line without its newline, still being written
    finished = max(e["epoch"] for e in metrics.epochs)
    assert finished >= 2
    checkpoint = read_checkpoint(folder)  # whole: a torn pair or file would raise
    done = checkpoint.progress.epochs_done
    assert 1 <= done <= finished
    # The epochs it lacks ended within a gap of it: later ones would have been written, but
    # for the one whose write the kill interrupted (and its epoch's length).
    ended = {e["epoch"]: e["time"] for e in metrics.epochs}
    longest = max(e["seconds"] for e in metrics.epochs)
    assert all(
        ended[e] - ended[done] <= CHECKPOINT_SECONDS + 2 * longest + 0.5
        for e in range(done + 1, finished + 1)
    )
    assert checkpoint.progress.step == done * info.get("steps_per_epoch")

    resumed = _train("--resume", folder, "--epochs", "1")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    info = read_run(folder)
    assert info.status == "finished" and info.get("epochs_done") == done + 1
    assert info.get("segments")[-1]["first_step"] == checkpoint.progress.step
    steps = [r["step"] for r in read_metrics(folder).steps]
    assert steps == list(range(1, steps[-1] + 1))  # the curve goes on from the checkpoint
    assert steps[-1] == (done + 1) * info.get("steps_per_epoch")


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_stops_a_run_until_stopped_cleanly(tmp_path):
    """`--until-stopped` trains on until Ctrl+C, which stops it as the window's Stop does: exit
    0, the run folder says stopped, the last checkpoint and the exports are written."""
    folder, export = tmp_path / "run", tmp_path / "digits.safetensors"
    proc = _train(
        example_path("digits_cnn"), "--until-stopped", "--run-dir", folder, "--export", export
    )
    try:
        wait_for_epochs(proc, folder, 2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopping after this step" in err and "stopped early" in out
    info = read_run(folder)
    assert info.status == "stopped" and info.get("total_epochs") is None
    checkpoint = read_checkpoint(folder)
    assert checkpoint.progress.step == info.get("step") >= 2 * info.get("steps_per_epoch")
    assert export.stat().st_size > 0
