"""Resuming a run from its folder: the model, the data, the settings and the checkpoint to go
on from, each checked with a sentence naming the file when it cannot be used."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.runs.folder import RunFolderError, read_run


@dataclass(frozen=True)
class ResumePlan:
    folder: Path
    spec: Any  # ModelSpec
    dataset: Any  # DataSource
    settings: Any  # TrainSettings, epochs = the epochs done + the epochs asked for
    checkpoint: Any  # engine.runs.checkpoint.Checkpoint


def plan_resume(
    folder: str | os.PathLike,
    more_epochs: int,
    *,
    which: str = "last",
    dataset: str | None = None,
    device: str | None = None,
    torch_threads: int | None = None,
) -> ResumePlan:
    """What ``python main.py train --resume FOLDER --epochs N`` trains: the run's own model,
    data and settings for ``more_epochs`` more epochs from its ``which`` checkpoint."""
    from engine.data.session import DataSource
    from engine.model.spec import ModelSpec, SpecError
    from engine.runs.checkpoint import read_checkpoint
    from engine.training.settings import SettingsError, TrainSettings

    info = read_run(folder)
    run_file = info.path / "run.json"
    if not os.access(info.path, os.W_OK):
        raise RunFolderError(
            f"Cannot resume in '{info.path}': the folder is read-only. Copy the run folder "
            "somewhere you can write and resume the copy."
        )
    if info.status == "running":
        raise RunFolderError(
            f"The run in '{info.path}' is still being written (process {info.get('pid')}); "
            "wait for it to end, or stop it, before resuming."
        )
    try:
        spec = ModelSpec.from_dict(info.get("spec"))
        settings = TrainSettings.from_dict(info.get("settings") or {})
    except (SpecError, SettingsError, TypeError) as err:
        raise RunFolderError(f"'{run_file}' cannot be resumed: {err}") from None
    checkpoint = read_checkpoint(info.path, which)
    done = checkpoint.progress.epochs_done
    changes: dict[str, Any] = {"epochs": done + more_epochs}
    if device is not None:
        changes["device"] = device
    if torch_threads is not None:
        changes["torch_threads"] = torch_threads
    ref = info.get("dataset") or {}
    if dataset is not None:
        source = DataSource.of(dataset, spec)
    elif ref.get("location"):
        source = DataSource(str(ref["location"]), dict(ref.get("options") or {}))
    else:
        raise RunFolderError(
            f"'{run_file}' does not say where its data was read from (it was handed over in "
            "memory); pass --dataset NAME_OR_PATH."
        )
    return ResumePlan(info.path, spec, source, replace(settings, **changes).checked(), checkpoint)
