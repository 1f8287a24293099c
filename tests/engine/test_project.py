"""The project format (layerlab-project v1): round trip, runs brought in, bad folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.export.formats import export_model
from engine.model.spec import ModelSpec
from engine.nn.build import build_model
from engine.project import (
    PROJECT_FILE,
    RUNS_FOLDER,
    WEIGHTS_FILE,
    ProjectError,
    read_project,
    read_safetensors_model,
    rebase_dataset,
    save_project,
)
from engine.runs.folder import RUN_FILE, write_json_atomic

SPEC = ModelSpec.from_dict({
    "format": "layerlab-model", "version": 1, "name": "small",
    "input": {"kind": "vector", "shape": [2]},
    "blocks": [
        {"id": "dense1", "type": "dense", "params": {"units": 8}},
        {"id": "batchnorm1", "type": "batchnorm", "params": {}},
        {"id": "dense2", "type": "dense", "params": {"units": 2}},
    ],
    "dataset": {"name": "moons", "options": {"n_samples": 300}},
})  # fmt: skip
TRAINING = {"optimizer": "sgd", "lr": 0.05, "batch_size": 16, "epochs": 3, "device": "cpu"}


def weights_of(spec=SPEC, seed=0):
    torch.manual_seed(seed)
    return {k: v.detach().numpy().copy() for k, v in build_model(spec).state_dict().items()}


def fake_run(parent, name, status="finished"):
    folder = parent / name
    folder.mkdir(parents=True)
    write_json_atomic(
        folder / RUN_FILE,
        {"format": "layerlab.run", "version": 1, "status": status, "pid": os.getpid(),
         "host": os.uname().nodename, "started_at": name},
    )  # fmt: skip
    (folder / "metrics.jsonl").write_text('{"type": "step", "step": 1, "loss": 0.5}\n')
    return folder


def test_round_trip_weights_byte_identical_settings_dataset_and_runs(tmp_path):
    weights = weights_of()
    elsewhere = tmp_path / "data-dir"
    loose = fake_run(elsewhere, "small-1")
    other_project_run = fake_run(tmp_path / "old.layerlab" / RUNS_FOLDER, "small-0")
    folder = tmp_path / "mine.layerlab"
    file, problems = save_project(
        folder, SPEC, training=TRAINING, weights=weights,
        move_runs=[loose], copy_runs=[other_project_run],
    )  # fmt: skip
    assert file == folder / PROJECT_FILE and problems == []
    assert not loose.exists() and other_project_run.exists()  # moved / copied
    data = json.loads(file.read_text())
    assert (data["format"], data["version"]) == ("layerlab-project", 1)
    assert data["model"]["dataset"] == {"name": "moons", "options": {"n_samples": 300}}

    project = read_project(folder)
    assert project.spec == SPEC and project.training == TRAINING
    assert project.weights.keys() == weights.keys()
    for name, value in weights.items():
        assert project.weights[name].dtype == value.dtype
        assert np.array_equal(project.weights[name], value)
    assert [r.name for r in project.runs] == ["small-0", "small-1"] and not project.problems
    first = (folder / WEIGHTS_FILE).read_bytes()
    save_project(folder, project.spec, training=project.training, weights=project.weights)
    assert (folder / WEIGHTS_FILE).read_bytes() == first  # byte-identical after a round trip
    assert read_project(folder / PROJECT_FILE).spec == SPEC  # its project.json opens it too


def test_no_weights_means_no_weights_file_and_no_torch_to_read(tmp_path):
    save_project(tmp_path / "p.layerlab", SPEC, weights=weights_of())
    save_project(tmp_path / "p.layerlab", SPEC, weights=None)
    assert not (tmp_path / "p.layerlab" / WEIGHTS_FILE).exists()
    code = (
        "import sys; from engine.project import read_project; "
        f"p = read_project({str(tmp_path / 'p.layerlab')!r}); "
        "assert p.weights is None; print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=os.getcwd()
    )
    assert out.stdout.strip() == "False"


def test_a_newer_version_and_a_broken_project_json_are_sentences(tmp_path):
    folder = tmp_path / "p.layerlab"
    save_project(folder, SPEC)
    data = json.loads((folder / PROJECT_FILE).read_text())
    (folder / PROJECT_FILE).write_text(json.dumps({**data, "version": 2}))
    with pytest.raises(ProjectError, match="newer LayerLab.*version 2"):
        read_project(folder)
    (folder / PROJECT_FILE).write_text('{"format": "layerlab-project", "vers')
    with pytest.raises(ProjectError, match="project.json' is not valid JSON"):
        read_project(folder)
    (folder / PROJECT_FILE).write_text(json.dumps({**data, "model": {"format": "x"}}))
    with pytest.raises(ProjectError, match="its model"):
        read_project(folder)
    with pytest.raises(ProjectError, match="has no project.json"):
        read_project(tmp_path)


def test_missing_corrupt_or_foreign_weights_leave_the_rest_open(tmp_path):
    folder = tmp_path / "p.layerlab"
    fake_run(folder / RUNS_FOLDER, "r1")
    save_project(folder, SPEC, training=TRAINING, weights=weights_of())
    blob = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(blob[: len(blob) // 2])
    project = read_project(folder)
    assert project.weights is None and project.spec == SPEC and project.training == TRAINING
    assert len(project.runs) == 1
    assert "weights.safetensors' is not the weights file this project saved" in project.problems[0]
    (folder / WEIGHTS_FILE).unlink()
    assert "is missing" in read_project(folder).problems[0]
    # Weights of another architecture, with a matching checksum: the mismatch is listed.
    other = SPEC.with_params(0, {"units": 5})
    save_project(folder, other, weights=weights_of(other))
    data = json.loads((folder / PROJECT_FILE).read_text())
    (folder / PROJECT_FILE).write_text(json.dumps({**data, "model": SPEC.to_dict()}))
    project = read_project(folder)
    assert project.weights is None
    assert "do not fit the model" in project.problems[0] and "dense1.weight" in project.problems[0]


def test_bad_training_settings_fall_back_to_defaults_with_a_sentence(tmp_path):
    folder = tmp_path / "p.layerlab"
    save_project(folder, SPEC, training={**TRAINING, "lr": -1.0})
    project = read_project(folder)
    assert project.training == {} and "training settings were not used" in project.problems[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_sentence_and_nothing_is_half_written(tmp_path):
    folder = tmp_path / "p.layerlab"
    save_project(folder, SPEC, weights=weights_of())
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    folder.chmod(0o555)
    try:
        with pytest.raises(ProjectError, match="Cannot write.*Save it in a folder you can write"):
            save_project(folder, SPEC.with_params(0, {"units": 3}), weights=None)
        assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    finally:
        folder.chmod(0o755)
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(ProjectError, match="Cannot write the project"):
        save_project(tmp_path / "ro" / "new.layerlab", SPEC)


def test_a_failed_write_leaves_the_old_project(tmp_path, monkeypatch):
    """Runs as root too: the write itself fails (a full disk), after the weights were prepared."""
    import engine.project as project_module
    from engine.runs.folder import RunFolderError

    folder = tmp_path / "p.layerlab"
    save_project(folder, SPEC, training=TRAINING, weights=weights_of())
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    def full(path, _data):
        raise RunFolderError(f"Cannot write '{path}': No space left on device.")

    monkeypatch.setattr(project_module, "write_json_atomic", full)
    with pytest.raises(ProjectError, match="No space left"):
        save_project(folder, SPEC, weights=weights_of(seed=1))
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert read_project(folder).weights is not None


def test_a_run_still_being_written_stays_where_it_is(tmp_path):
    live = fake_run(tmp_path / "data", "live", status="running")  # this process: alive
    _, problems = save_project(tmp_path / "p.layerlab", SPEC, move_runs=[live])
    assert live.exists() and "still being written" in problems[0]


def test_a_layerlab_safetensors_export_opens_as_the_model_with_its_weights(tmp_path):
    torch.manual_seed(3)
    model = build_model(SPEC)
    export_model(model, SPEC, tmp_path / "m.safetensors")
    opened = read_safetensors_model(tmp_path / "m.safetensors")
    assert opened.spec == SPEC and opened.folder is None
    for name, value in model.state_dict().items():
        assert np.array_equal(opened.weights[name], value.numpy())
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ProjectError, match="no LayerLab model.*Import Weights"):
        read_safetensors_model(tmp_path / "plain.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    with pytest.raises(ProjectError, match="not a valid safetensors file"):
        read_safetensors_model(tmp_path / "bad.safetensors")


def test_a_relative_dataset_path_is_rebased_into_the_project(tmp_path):
    spec = ModelSpec.from_dict({**SPEC.to_dict(), "dataset": {"name": "data.npz"}})
    moved = rebase_dataset(spec, tmp_path / "models", tmp_path / "projects" / "p.layerlab")
    assert moved.dataset == "../../models/data.npz"
    assert rebase_dataset(SPEC, tmp_path, tmp_path / "x") == SPEC  # built-in: unchanged


def test_until_stopped_is_kept_as_null_epochs(tmp_path):
    folder = tmp_path / "p.layerlab"
    save_project(folder, SPEC, training={**TRAINING, "epochs": None})
    assert json.loads((folder / "project.json").read_text())["training"]["epochs"] is None
    assert read_project(folder).training["epochs"] is None
