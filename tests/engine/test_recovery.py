"""Recovery folders on disk (engine/recovery.py): written through the project writer, found only
when their LayerLab is gone, read back with their runs by reference; bad folders are sentences."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.project import PROJECT_FILE, ProjectError
from engine.recovery import (
    AUTOSAVE_SECONDS,
    PROJECT_DIR,
    RECOVERY_FILE,
    autosave_seconds,
    find_recoveries,
    read_recovered,
    recovery_root,
    write_recovery,
)
from engine.runs.folder import RUN_FILE, write_json_atomic


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(out.stdout)


def crashed(folder):
    """Make ``folder`` look as a crashed LayerLab left it: its pid is gone."""
    meta = json.loads((folder / RECOVERY_FILE).read_text())
    write_json_atomic(folder / RECOVERY_FILE, {**meta, "pid": dead_pid()})


def model_weights(spec):
    import torch

    from engine.nn.build import build_model

    torch.manual_seed(3)
    return {k: v.numpy().copy() for k, v in build_model(spec).state_dict().items()}


def moons():
    return ModelSpec.load(example_path("moons_mlp"))


def test_the_interval_is_one_constant_that_the_environment_overrides(monkeypatch):
    monkeypatch.delenv("LAYERLAB_AUTOSAVE_SECONDS", raising=False)
    assert autosave_seconds() == AUTOSAVE_SECONDS == 30.0
    monkeypatch.setenv("LAYERLAB_AUTOSAVE_SECONDS", "0.25")
    assert autosave_seconds() == 0.25
    monkeypatch.setenv("LAYERLAB_AUTOSAVE_SECONDS", "soon")  # not a number: the default
    assert autosave_seconds() == AUTOSAVE_SECONDS


def test_a_crashed_sessions_work_comes_back_and_a_live_ones_is_left_alone(data_dir, tmp_path):
    spec = moons()
    weights = model_weights(spec)
    run = data_dir / "runs" / "moons-1"
    run.mkdir(parents=True)
    write_json_atomic(run / RUN_FILE, {"format": "layerlab.run", "version": 1, "status": "stopped"})
    folder = recovery_root() / "session-a"
    write_recovery(
        folder, spec, original=None, training={"lr": 0.5, "epochs": 3}, weights=weights, runs=[run]
    )
    assert (folder / PROJECT_DIR / PROJECT_FILE).exists()
    assert find_recoveries() == ([], [])  # this process wrote it and is alive: not offered
    crashed(folder)
    (found,), bad = find_recoveries()
    assert not bad and found.folder == folder and found.runs == (run,)
    assert found.saved_at and found.original is None and found.live_run is None
    work = read_recovered(found)
    assert work.spec == spec and work.training == {"lr": 0.5, "epochs": 3}
    assert work.runs == (run,) and not work.problems
    assert all(np.array_equal(work.weights[k], v) for k, v in weights.items())
    # The runs are referenced, not copied: the recovery project has none of its own.
    assert not any((folder / PROJECT_DIR / "runs").iterdir())


def test_a_folder_a_crash_left_before_its_first_write_is_removed(data_dir):
    folder = recovery_root() / "empty"
    folder.mkdir(parents=True)
    half = recovery_root() / "half"
    half.mkdir()
    write_json_atomic(
        half / RECOVERY_FILE,
        {"format": "layerlab-recovery", "version": 1, "pid": dead_pid(), "host": _host(),
         "saved_at": None},
    )  # fmt: skip
    assert find_recoveries() == ([], [])
    assert folder.exists()  # empty: skipped, not an error (a session may be making it now)
    assert not half.exists()  # claimed but never complete: nothing to recover


def _host():
    import socket

    return socket.gethostname()


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "is not valid JSON"),
        ('{"format": "something else"}', "not a LayerLab recovery"),
        ('{"format": "layerlab-recovery", "version": 7}', "newer LayerLab"),
    ],
)
def test_a_bad_recovery_folder_is_a_sentence_naming_its_file(data_dir, content, said):
    folder = recovery_root() / "bad"
    folder.mkdir(parents=True)
    (folder / RECOVERY_FILE).write_text(content)
    found, ((where, sentence),) = find_recoveries()
    assert not found and where == folder
    assert said in sentence and str(folder) in sentence


def test_a_recovery_whose_project_is_damaged_cannot_be_read(data_dir):
    folder = recovery_root() / "s"
    write_recovery(folder, moons(), original=None, training={}, weights=None)
    crashed(folder)
    (folder / PROJECT_DIR / PROJECT_FILE).write_text("{")
    (found,), _ = find_recoveries()
    with pytest.raises(ProjectError, match="project.json"):
        read_recovered(found)
