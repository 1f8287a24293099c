"""Distributed training (engine/training/distributed.py, engine/launch.py): `main.py train` under
torchrun and with --nproc, two gloo processes on the CPU. Each test starts real processes."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from engine.model.examples import example_path
from engine.runs.checkpoint import read_checkpoint
from engine.runs.folder import read_metrics, read_run
from tests.engine._train_fixtures import wait_for_epochs

ROOT = Path(__file__).resolve().parents[2]


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


QUIET = ["--device", "cpu", "--threads", "1", "--quiet"]
TIMEOUT = 180  # seconds: three interpreters importing torch on a shared 2-core machine


def _run(*argv, launcher=("main.py", "train")) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *launcher, *map(str, argv)],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip


def test_torchrun_trains_two_gloo_processes_into_one_run_folder(tmp_path):
    folder = tmp_path / "run"
    torchrun = ("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2")
    done = _run(
        "main.py", "train", example_path("moons_mlp"), "--epochs", "3", "--run-dir", folder,
        *QUIET, launcher=torchrun,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Rank 0 speaks for the run, once; the ranks' weights were compared by an all-gather.
    assert done.stdout.count("processes: 2 processes (gloo), the same weights on every rank") == 1
    info = read_run(folder)
    assert info.status == "finished" and info.get("processes") == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # one run folder, rank 0's
    losses = [e["train_loss"] for e in read_metrics(folder).epochs]
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_two_processes_follow_the_single_process_run_step_for_step(tmp_path):
    """--batch-size is the global batch: each rank trains its share of the batch one process
    would train (33 = 17 + 16: the loss is weighted by share), DDP averages the gradients, so
    the weights after an epoch equal one process's, to 1e-6."""
    args = [example_path("moons_mlp"), "--epochs", "1", "--batch-size", "33", *QUIET]
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    single = _run(*args, "--run-dir", tmp_path / "r1", "--export", one)
    double = _run(*args, "--run-dir", tmp_path / "r2", "--export", two, "--nproc", "2")
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr
    a, b = load_file(one), load_file(two)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-6, err_msg=name)
    steps = [r["step"] for r in read_metrics(tmp_path / "r2").steps]
    assert steps == list(range(1, 26))  # 800 samples / 33: 25 steps, as with one process


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of the process of ``rank`` that ``launcher`` started (torchrun sets RANK)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
        if ppid == launcher and f"RANK={rank}".encode() in env:
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the ranks through /proc")
def test_a_killed_rank_stops_the_run_which_resumes_with_one_process(tmp_path):
    folder = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "main.py", "train", str(example_path("digits_cnn")), "--until-stopped",
         "--batch-size", "8", "--run-dir", str(folder), "--nproc", "2", *QUIET],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_epochs(proc, folder, 1)
        victim = _rank_pid(proc.pid, 1)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        out, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - killed
    finally:
        proc.kill()
    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, naming the rank
    assert lines[0].startswith(f"layerlab: process rank 1 (pid {victim}) was killed by SIGKILL")
    assert f"--resume {folder}" in lines[0]
    assert stopped_in < 30
    info = read_run(folder)
    assert info.status in ("failed", "interrupted")
    checkpoint = read_checkpoint(folder)  # whole and loadable
    assert checkpoint.progress.epochs_done >= 1

    resumed = _run("--resume", folder, "--epochs", "1", *QUIET)  # one process now
    assert resumed.returncode == 0, resumed.stderr
    info = read_run(folder)
    assert info.status == "finished" and info.get("processes") == 1
    assert info.get("epochs_done") == checkpoint.progress.epochs_done + 1


@pytest.mark.parametrize(
    "argv, words",
    [
        (["missing.json"], "the model file 'missing.json' does not exist"),
        ([example_path("moons_mlp"), "--batch-size", "1"], "--batch-size 1 is the global batch"),
        pytest.param(
            [example_path("moons_mlp"), "--device", "cuda"],
            "asked to train on 'cuda'",
            marks=pytest.mark.skipif(torch_has_cuda(), reason="needs a machine without CUDA"),
        ),
    ],
)
def test_bad_input_under_nproc_is_one_sentence_and_exit_2(tmp_path, argv, words):
    done = _run("--nproc", "2", "--run-dir", tmp_path / "run", *QUIET, *argv)  # argv wins
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerlab: ") and words in lines[0], lines
    assert not (tmp_path / "run" / "run.json").exists()


def test_a_rank_that_leaves_the_sentence_to_rank_0_ends_after_it(monkeypatch):
    """Every rank finds a global batch too small; rank 0 says so. Rank 1 ending first had
    torchrun stop rank 0 before its sentence was out: rank 1 now waits, saying nothing."""
    from engine import cli

    waits = []
    monkeypatch.setattr(cli.time, "sleep", waits.append)
    monkeypatch.setenv("WORLD_SIZE", "2")
    argv = [str(example_path("moons_mlp")), "--batch-size", "1", "--epochs", "1"]
    said = {}
    for rank in ("1", "0"):
        monkeypatch.setenv("RANK", rank)
        err = io.StringIO()
        assert cli.train_main(argv, stdout=io.StringIO(), stderr=err) == 2
        said[rank] = err.getvalue()
    assert said["1"] == "" and waits == [cli.SILENT_RANK_GRACE]
    assert said["0"].startswith("layerlab: --batch-size 1 is the global batch")


def test_a_port_in_use_or_an_unknown_host_is_one_sentence_and_exit_2(tmp_path):
    """torchrun itself would wait on a port another program holds, as if it were the
    rendezvous; the launcher says so at once."""
    import socket

    from engine.cli import train_main

    model = str(example_path("moons_mlp"))
    runs = example_path("moons_mlp").parent / "runs"
    before = sorted(runs.iterdir()) if runs.exists() else []
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        cases = {
            f"127.0.0.1:{port}": f"port {port} on this machine is in use by another program",
            "nowhere.invalid:29400": "the rendezvous host 'nowhere.invalid' is not known here",
            "no-port": "--rdzv-endpoint must be HOST:PORT",
        }
        for endpoint, words in cases.items():
            err = io.StringIO()
            code = train_main([model, "--nproc", "2", "--rdzv-endpoint", endpoint], stderr=err)
            assert code == 2 and err.getvalue().startswith(f"layerlab: {words}"), err.getvalue()
    after = sorted(runs.iterdir()) if runs.exists() else []
    assert after == before  # no run folder was made for a run that cannot start


def test_ctrl_c_stops_every_process_cleanly(tmp_path):
    """Ctrl+C reaches the whole process group (the terminal sends it to all): the run stops
    after the same step on every rank, and ends as the window's Stop does."""
    folder = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "main.py", "train", str(example_path("moons_mlp")), "--until-stopped",
         "--run-dir", str(folder), "--nproc", "2", *QUIET],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job has
    )  # fmt: skip
    try:
        wait_for_epochs(proc, folder, 1)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped early" in out and "the same weights on every rank" in out
    assert err.strip() == "layerlab: stopping after this step (Ctrl+C again to quit at once)"
    assert read_run(folder).status == "stopped"
