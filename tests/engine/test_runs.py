"""Run folders: what the recorder writes as a run goes, and resuming from its checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.runs.checkpoint import read_checkpoint
from engine.runs.folder import (
    RUN_FORMAT,
    RUN_FORMAT_VERSION,
    list_checkpoints,
    new_run_folder,
    read_metrics,
    read_run,
)
from engine.runs.recorder import RunRecorder
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer
from tests.engine._train_fixtures import make_spec, vector_data

SETTINGS = dict(device="cpu", batch_size=16, seed=3, probes=False, torch_threads=1)


def dropout_spec():
    # Dropout draws from torch's RNG every step, so a resume must restore that too.
    return make_spec(
        "vector",
        (2,),
        [("dense", {"units": 16}), ("relu", {}), ("dropout", {"p": 0.3}),
         ("dense", {"units": 2})],
    )  # fmt: skip


def record(folder, epochs, *, resume=None, spec=None, optimizer="adam", **extra):
    settings = TrainSettings(epochs=epochs, optimizer=optimizer, **SETTINGS, **extra)
    trainer = Trainer(spec or dropout_spec(), vector_data(n=200), settings, resume_from=resume)
    recorder = RunRecorder(folder, trainer)
    trainer.callbacks.append(recorder)
    result = trainer.run()
    assert recorder.problem is None
    return trainer, result


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adamw", "rmsprop"])
def test_two_epochs_then_two_more_after_a_resume_equal_four_in_one_go(tmp_path, optimizer):
    whole, _ = record(new_run_folder(tmp_path, "whole"), 4, optimizer=optimizer)
    folder = new_run_folder(tmp_path, "parts")
    record(folder, 2, optimizer=optimizer)
    checkpoint = read_checkpoint(folder)
    assert checkpoint.progress.epochs_done == 2
    resumed, result = record(folder, 4, resume=checkpoint, optimizer=optimizer)
    assert result.step == whole.step == 4 * 10
    expected = whole.setup.weights()
    for name, value in resumed.setup.weights().items():
        np.testing.assert_allclose(value, expected[name], rtol=0, atol=1e-6, err_msg=name)
    steps = [r["step"] for r in read_metrics(folder).steps]
    assert steps == list(range(1, 41))  # the curve goes on from the same step, no repeats


def test_a_checkpoint_of_torchs_default_adam_resumes_on_the_fused_kernel(tmp_path, monkeypatch):
    # Runs recorded before the Trainer asked for fused kernels saved "fused": None in their
    # optimiser state; a resume runs on this run's kernel and goes on as the whole run did.
    from engine.training import optim

    whole, _ = record(new_run_folder(tmp_path, "whole"), 4)
    folder = new_run_folder(tmp_path, "old")
    with monkeypatch.context() as patch:
        patch.setattr(optim, "kernel_options", lambda *_: {})
        old, _ = record(folder, 2)
    assert not old.optimizer.param_groups[0]["fused"]
    resumed, result = record(folder, 4, resume=read_checkpoint(folder))
    assert resumed.optimizer.param_groups[0]["fused"] is True and result.step == 40
    expected = whole.setup.weights()
    for name, value in resumed.setup.weights().items():
        np.testing.assert_allclose(value, expected[name], rtol=0, atol=1e-5, err_msg=name)


def test_the_run_folder_holds_description_metrics_checkpoints(tmp_path):
    folder = new_run_folder(tmp_path, "My model")
    assert folder.name.startswith("my-model-")
    trainer, result = record(folder, 3)
    info = read_run(folder)
    assert info.status == "finished"
    assert info.get("format") == RUN_FORMAT and info.get("version") == RUN_FORMAT_VERSION
    assert info.get("spec") == trainer.spec.to_dict()
    assert info.get("settings")["epochs"] == 3 and info.get("seed") == 3
    assert info.get("device") and info.get("versions")["torch"]
    assert info.get("dataset")["title"] == "vec"
    assert info.get("ended_at") and info.get("started_at")
    assert info.get("final")["epoch"] == 3
    best = info.get("best")
    assert best["metric"] == "val_accuracy"
    metrics = read_metrics(folder)
    assert len(metrics.steps) == 3 * 10 and [e["epoch"] for e in metrics.epochs] == [1, 2, 3]
    assert max(e["val_accuracy"] for e in metrics.epochs) == best["value"]
    assert not metrics.problems
    rows = (folder / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("type,step,epoch") and len(rows) == 1 + 3 * 10 + 3
    saved = list_checkpoints(folder)
    assert saved["last"]["progress"]["step"] == result.step
    assert saved["best"]["progress"]["step"] == best["step"]
    weights = read_checkpoint(folder).model_state()
    for name, value in trainer.setup.weights().items():
        np.testing.assert_array_equal(weights[name].numpy(), value)
    assert not any(p.suffix in (".pt", ".pkl", ".pth") for p in folder.rglob("*"))


def test_a_run_left_running_by_a_dead_process_reads_as_interrupted(tmp_path):
    folder = new_run_folder(tmp_path, "m")
    record(folder, 1)
    data = json.loads((folder / "run.json").read_text())
    data.update(status="running", pid=2**22 + 12345)  # no such process
    (folder / "run.json").write_text(json.dumps(data))
    assert read_run(folder).status == "interrupted"
