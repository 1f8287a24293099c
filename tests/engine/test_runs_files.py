"""Run folders from the outside: the CLI's runs and resumes, the window's runs (the training
process), TensorBoard's reading of them, saved probe snapshots and every bad file."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import torch

from engine.cli import train_main
from engine.export.weights import load_weights
from engine.nn.build import build_model
from engine.runs.checkpoint import read_checkpoint
from engine.runs.folder import (
    RunFolderError,
    new_run_folder,
    read_metrics,
    read_run,
)
from engine.runs.probe_files import read_probes
from engine.runs.recorder import RunRecorder
from engine.runs.resume import plan_resume
from engine.training.process import TrainingProcess
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer
from tests.engine._train_fixtures import cnn_spec, image_data, mlp_spec, vector_data
from tests.engine.test_remote import collect, ended

FAST = dict(device="cpu", torch_threads=1, batch_size=8)


@pytest.fixture
def model_file(tmp_path):
    spec = mlp_spec()
    spec = type(spec)(spec.input, spec.blocks, "moons mlp", "moons", {"n_samples": 80})
    path = tmp_path / "m.json"
    spec.save(path)
    return path


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = train_main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def only_run(parent):
    (folder,) = [p for p in parent.iterdir() if p.is_dir()]
    return folder


def test_cli_writes_a_run_beside_the_model_and_resumes_it(model_file, tmp_path):
    base = ["--device", "cpu", "--batch-size", "16", "--threads", "1", "--quiet"]
    code, out, err = cli(model_file, "--epochs", "2", *base)
    assert code == 0, err
    folder = only_run(tmp_path / "runs")
    assert folder.name.startswith("moons-mlp-") and f"run folder: {folder}" in out
    assert read_run(folder).status == "finished"
    code, out, err = cli("--resume", folder, "--epochs", "2", *base)
    assert code == 0, err
    info = read_run(folder)
    assert info.get("epochs_done") == 4 and info.get("settings")["epochs"] == 4
    assert len(info.get("segments")) == 2
    steps = [r["step"] for r in read_metrics(folder).steps]
    assert steps == list(range(1, steps[-1] + 1)) and steps[-1] == 4 * 4
    code, _, err = cli("--resume", folder, "--from", "best", "--epochs", "1", *base)
    assert code == 0, err
    best_step = read_run(folder).get("segments")[-1]["first_step"]
    steps = [r["step"] for r in read_metrics(folder).steps]
    assert steps == list(range(1, best_step + 5))  # what came after the best was replaced


def test_cli_run_dir_and_its_refusals(model_file, tmp_path):
    target = tmp_path / "here"
    code, _, err = cli(model_file, "--epochs", "1", "--device", "cpu", "--run-dir", target)
    assert code == 0, err
    assert read_run(target).status == "finished"
    code, _, err = cli(model_file, "--epochs", "1", "--run-dir", target)
    assert code == 2 and "already holds a run" in err and err.count("\n") == 1
    code, _, err = cli("--resume", tmp_path / "nothing", "--epochs", "1")
    assert code == 2 and "not a run folder" in err
    code, _, err = cli("--resume", target, model_file, "--epochs", "1")
    assert code == 2 and "leave out MODEL_FILE" in err


def test_a_read_only_folder_is_a_sentence(model_file, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = cli(model_file, "--epochs", "1", "--run-dir", locked / "run")
    assert code == 2 and str(locked) in err and err.count("\n") == 1


def test_a_read_only_run_folder_cannot_be_made_or_resumed(tmp_path, monkeypatch):
    # The same sentences for root, which os.access would let through: the checks are asked.
    folder = new_run_folder(tmp_path, "m")
    _train(folder, 1)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(RunFolderError, match=r"read-only.*Copy the run folder"):
        plan_resume(folder, 1)


def _train(folder, epochs, spec=None, data=None, **settings):
    settings = TrainSettings(epochs=epochs, **{**FAST, "probes": False, **settings})
    trainer = Trainer(spec or mlp_spec(), data or vector_data(n=64), settings)
    recorder = RunRecorder(folder, trainer)
    trainer.callbacks.append(recorder)
    trainer.run()
    return trainer, recorder


def test_tensorboard_reads_the_run_back(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import engine.runs.logs as logs_module

    monkeypatch.setattr(logs_module, "TENSORBOARD_STEP_SECONDS", 0.0)  # every step
    folder = new_run_folder(tmp_path, "cnn")
    trainer, _ = _train(folder, 2, cnn_spec(), image_data(n=96), probes=True,
                        probe_kinds=("weight_histograms",), probe_intervals={"weight_histograms": 0.0})  # fmt: skip
    events = EventAccumulator(str(folder / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/loss", "train/lr", "train/accuracy", "epoch/val_loss",
            "epoch/val_accuracy"} <= set(tags["scalars"])  # fmt: skip
    losses = events.Scalars("train/loss")
    ours = {r["step"]: r["loss"] for r in read_metrics(folder).steps}
    assert [s.step for s in losses] == list(range(1, trainer.step + 1))
    np.testing.assert_allclose([s.value for s in losses], [ours[s.step] for s in losses], rtol=1e-6)
    assert [s.step for s in events.Scalars("epoch/val_loss")] == [e["step"] for e in read_metrics(folder).epochs]  # fmt: skip
    assert any(tag.startswith("weights/") for tag in tags["histograms"])


def test_probe_snapshots_come_back_as_the_views_draw_them(tmp_path):
    folder = new_run_folder(tmp_path, "cnn")
    recorded = {}

    class Newest(RunRecorder):
        def on_probe(self, event):
            recorded[event.kind] = event
            super().on_probe(event)

    settings = TrainSettings(epochs=2, **FAST, probe_intervals=dict.fromkeys(
        ("filters", "feature_maps", "layer_gradients", "classification_report"), 0.0))  # fmt: skip
    trainer = Trainer(cnn_spec(), image_data(n=96), settings)
    trainer.callbacks.append(Newest(folder, trainer))
    trainer.run()
    saved, problems = read_probes(folder)
    assert not problems
    assert {"filters", "feature_maps", "layer_gradients", "classification_report"} <= set(saved)
    for kind, (step, data) in saved.items():
        assert step == recorded[kind].step, kind
        _same(data, recorded[kind].data)


def _same(a, b):
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
        assert not a.flags.writeable
    elif hasattr(a, "__dataclass_fields__"):
        assert type(a) is type(b)
        for name in a.__dataclass_fields__:
            _same(getattr(a, name), getattr(b, name))
    elif isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif hasattr(a, "items"):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    else:
        assert a == b


def test_a_window_run_writes_its_folder_from_the_training_process(tmp_path):
    settings = TrainSettings(epochs=2, runs_folder=str(tmp_path), **FAST)
    run = TrainingProcess(mlp_spec(), vector_data(n=64), settings)
    got = collect(run, ended)
    # Read as soon as the end arrives, not after the process is gone: the recorder's writes are
    # on disk before the window hears that the run ended.
    folder = got.events[0].run_folder
    assert folder and os.path.dirname(folder) == str(tmp_path)
    info = read_run(folder)
    assert info.status == "finished" and info.get("epochs_done") == 2
    assert [r["step"] for r in read_metrics(folder).steps] == [s.step for s in got.steps]
    assert read_checkpoint(folder).progress.step == got.steps[-1].step
    assert run.wait(5.0)


# ---------------------------------------------------------------- bad files


@pytest.fixture
def finished_run(tmp_path):
    folder = new_run_folder(tmp_path, "m")
    _train(folder, 2)
    return folder


def test_a_truncated_or_corrupt_metrics_line_is_named_and_skipped(finished_run):
    file = finished_run / "metrics.jsonl"
    lines = file.read_text().splitlines()
    count = len(lines)
    lines[3] = lines[3][: len(lines[3]) // 2]
    file.write_text("\n".join(lines) + "\n" + '{"type": "step", "st')  # a torn last record
    metrics = read_metrics(finished_run)
    assert len(metrics.steps) + len(metrics.epochs) + len(metrics.markers) == count - 1
    (problem,) = metrics.problems
    assert str(file) in problem and "line 4" in problem


def _edit(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _without_embedded_description(folder):
    """The last checkpoint as LayerLab wrote it before its safetensors file held the JSON."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    file = folder / "checkpoints" / "last.safetensors"
    with safe_open(str(file), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        metadata = {k: v for k, v in fh.metadata().items() if k != "layerlab_checkpoint_info"}
    save_file(tensors, str(file), metadata=metadata)


def _edit_embedded(folder, **changes):
    from safetensors import safe_open
    from safetensors.torch import save_file

    file = folder / "checkpoints" / "last.safetensors"
    with safe_open(str(file), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        metadata = fh.metadata()
    info = {**json.loads(metadata["layerlab_checkpoint_info"]), **changes}
    save_file(
        tensors, str(file), metadata={**metadata, "layerlab_checkpoint_info": json.dumps(info)}
    )


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda f: (f / "checkpoints" / "last.safetensors").unlink(), "has no last checkpoint"),
        (lambda f: (f / "checkpoints" / "last.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{bad"),
         "last.safetensors' is corrupt"),
        (lambda f: _edit_embedded(f, version=99), "newer LayerLab"),
        (lambda f: _edit_embedded(f, format="other"), "is not a LayerLab checkpoint"),
        # Written before the safetensors file held the description: the JSON file is needed.
        (lambda f: (_without_embedded_description(f),
                    (f / "checkpoints" / "last.json").write_text("{")),
         "last.json' is not valid JSON"),
        (lambda f: (_without_embedded_description(f),
                    _edit(f / "checkpoints" / "last.json", version=99)), "newer LayerLab"),
        (lambda f: (_without_embedded_description(f),
                    _edit(f / "checkpoints" / "last.json", token="other")), "does not match"),
        (lambda f: (_without_embedded_description(f),
                    (f / "checkpoints" / "last.json").unlink()), "has no description"),
    ],
)  # fmt: skip
def test_a_missing_or_corrupt_checkpoint_is_a_sentence_naming_it(finished_run, damage, match):
    damage(finished_run)
    with pytest.raises(RunFolderError, match=match) as caught:
        read_checkpoint(finished_run)
    assert str(finished_run) in str(caught.value)


def test_a_crash_between_the_two_renames_leaves_a_whole_checkpoint(finished_run):
    """The safetensors file holds its own description: a last.json left from the checkpoint
    before (the crash came after the tensors' rename) or lost altogether changes nothing."""
    whole = read_checkpoint(finished_run)
    meta = finished_run / "checkpoints" / "last.json"
    _edit(meta, token="an older checkpoint's", progress={**whole.info["progress"], "step": 1})
    torn = read_checkpoint(finished_run)
    assert torn.info == whole.info and torn.progress == whole.progress
    meta.unlink()
    assert read_checkpoint(finished_run).info == whole.info
    assert set(torn.tensors) == set(whole.tensors)


def test_a_checkpoint_of_another_architecture_fails_the_resumed_run_readably(finished_run):
    checkpoint = read_checkpoint(finished_run)
    settings = TrainSettings(epochs=3, **FAST, probes=False)
    other = mlp_spec(features=2, classes=3)
    result = Trainer(other, vector_data(n=64, classes=3), settings, resume_from=checkpoint).run()
    assert "last.safetensors" in result.message and "another architecture" in result.message


def test_a_run_folder_of_a_newer_version_is_refused_by_name(finished_run):
    _edit(finished_run / "run.json", version=2)
    with pytest.raises(RunFolderError, match=r"run.json' was written by a newer LayerLab"):
        read_run(finished_run)
    (finished_run / "run.json").write_text("{ not json")
    with pytest.raises(RunFolderError, match=r"run.json' is not valid JSON"):
        read_run(finished_run)


def test_a_failing_disk_stops_the_recording_not_the_run(tmp_path, monkeypatch):
    import engine.runs.recorder as recorder_module

    folder = new_run_folder(tmp_path, "m")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder_module, "write_checkpoint", full)
    trainer, recorder = _train(folder, 2)
    assert trainer.step == 2 * 6  # trained to the end
    assert "No space left on device" in recorder.problem and str(folder) in recorder.problem


@pytest.mark.parametrize("key", ["state_dict", "model_state_dict", "model"])
def test_import_weights_takes_the_checkpoint_recipes_keys(tmp_path, key):
    spec = mlp_spec()
    trained = build_model(spec, seed=5).state_dict()
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, key: trained, "optimizer_state_dict": {"lr": 0.1}}, path)
    model = build_model(spec, seed=1)
    load_weights(model, path)
    for name, value in model.state_dict().items():
        assert torch.equal(value, trained[name])
