"""Autosaved work and crash recovery, on disk: where a window keeps its unsaved work while it
runs, and what a later launch finds there. No Qt; no torch at import.

Each window session writes ``<data dir>/recovery/<session>/``:

- ``project/``: a normal project folder (engine/project.py writes it, atomically, with the
  model, its weights and the training panel's settings);
- ``recovery.json``: ``format`` ("layerlab-recovery"), ``version`` (1), ``pid``, ``host``,
  ``saved_at`` (null until the first project is complete), ``original`` (the file the work was
  opened from, or null), ``runs`` (the run folders not yet in a project) and ``live_run`` (the
  run that was training, or null).

Runs are referenced, not copied: an untitled model's runs already live in the data directory,
written by their own recorder, and a run's metrics reach 10^5 lines, so copying them every
30 s would cost far more than the rest of the autosave and store each run twice. The run in
progress keeps its own checkpoints, so Recover takes the weights of its last checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.contracts import read_contract
from engine.model.spec import ModelSpec
from engine.project import Project, ProjectError, read_project, rebase_dataset, save_project
from engine.runs.folder import RunFolderError, read_run, user_runs_dir, write_json_atomic

RECOVERY_FORMAT = "layerlab-recovery"
RECOVERY_VERSION = 1
RECOVERY_FILE = "recovery.json"
PROJECT_DIR = "project"
UNREADABLE_SUFFIX = ".unreadable"
# How often unsaved work is written, in seconds; the environment variable overrides it (tests).
AUTOSAVE_SECONDS = 30.0
AUTOSAVE_SECONDS_ENV = "LAYERLAB_AUTOSAVE_SECONDS"


def autosave_seconds() -> float:
    """The autosave interval: AUTOSAVE_SECONDS, or LAYERLAB_AUTOSAVE_SECONDS when it is a
    positive number."""
    raw = os.environ.get(AUTOSAVE_SECONDS_ENV, "")
    with contextlib.suppress(ValueError):
        if float(raw) > 0:
            return float(raw)
    return AUTOSAVE_SECONDS


def recovery_root() -> Path:
    """``recovery`` beside ``runs`` in LayerLab's folder of the user's data directory."""
    return user_runs_dir().parent / "recovery"


def session_folder() -> Path:
    """A folder name of its own for this process's autosaves (made at the first write)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return recovery_root() / f"{socket.gethostname()}-{os.getpid()}-{stamp}"


@dataclass(frozen=True)
class RecoveryEntry:
    """One recovery folder, as its recovery.json describes it."""

    folder: Path
    data: dict[str, Any]

    @property
    def saved_at(self) -> str | None:
        return self.data.get("saved_at")

    @property
    def original(self) -> Path | None:
        original = self.data.get("original")
        return Path(original) if isinstance(original, str) and original else None

    @property
    def runs(self) -> tuple[Path, ...]:
        return tuple(Path(r) for r in self.data.get("runs") or () if isinstance(r, str))

    @property
    def live_run(self) -> Path | None:
        live = self.data.get("live_run")
        return Path(live) if isinstance(live, str) and live else None

    def writer_alive(self) -> bool:
        """Whether the LayerLab that writes this folder may still be running: its pid is alive
        on this host. Another host's folder (a shared data directory) counts as alive: this
        machine cannot tell, and recovering it would take work from under a running window."""
        pid = self.data.get("pid")
        if self.data.get("host") != socket.gethostname() or not isinstance(pid, int):
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process has that id now: not ours to judge
            return True
        return True

    def when(self) -> str:
        """saved_at as a person reads it, in local time."""
        try:
            return datetime.fromisoformat(str(self.saved_at)).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return str(self.saved_at)


@dataclass(frozen=True)
class Recovered:
    """What Recover brings back: the model, its settings and weights, and its runs."""

    spec: ModelSpec
    original: Path | None
    training: dict[str, Any]
    weights: dict[str, np.ndarray] | None
    runs: tuple[Path, ...]
    problems: tuple[str, ...]


# ---------------------------------------------------------------- writing


def write_recovery(
    folder: str | os.PathLike,
    spec: ModelSpec,
    *,
    original: Path | None,
    training: dict[str, Any],
    weights: dict[str, np.ndarray] | None,
    runs: tuple[Path, ...] | list[Path] = (),
    live_run: Path | None = None,
) -> None:
    """Autosave unsaved work into ``folder``: the project first (save_project, atomic per
    file), then recovery.json, so a folder whose recovery.json has a time holds a complete
    project. ProjectError (a sentence naming the folder) when it cannot be written."""
    folder = Path(folder)
    meta = {
        "format": RECOVERY_FORMAT,
        "version": RECOVERY_VERSION,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "saved_at": None,
        "original": str(original) if original else None,
        "runs": [str(r) for r in runs],
        "live_run": str(live_run) if live_run else None,
    }
    try:
        if not (folder / RECOVERY_FILE).exists():
            # Claim the folder with this pid before the project is complete, so another window
            # launched meanwhile sees a live session, not a crashed one.
            folder.mkdir(parents=True, exist_ok=True)
            write_json_atomic(folder / RECOVERY_FILE, meta)
        base = original.parent if original else None
        save_project(
            folder / PROJECT_DIR,
            rebase_dataset(spec, base, folder / PROJECT_DIR),
            training=training,
            weights=weights,
        )
        write_json_atomic(folder / RECOVERY_FILE, {**meta, "saved_at": _now()})
    except (OSError, RunFolderError) as err:
        raise ProjectError(
            f"Cannot autosave the unsaved work to '{folder}': {getattr(err, 'strerror', 0) or err}"
        ) from None


def remove_recovery(folder: str | os.PathLike) -> None:
    """Delete a recovery folder (the work was saved, discarded or recovered)."""
    shutil.rmtree(folder, ignore_errors=True)


def set_aside(folder: str | os.PathLike) -> Path:
    """Rename an unreadable recovery folder so that it is not offered again, and keep it."""
    folder = Path(folder)
    target = folder.with_name(folder.name + UNREADABLE_SUFFIX)
    with contextlib.suppress(OSError):
        folder.rename(target)
        return target
    return folder


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# ---------------------------------------------------------------- finding and reading


def find_recoveries() -> tuple[list[RecoveryEntry], list[tuple[Path, str]]]:
    """The recovery folders left by a LayerLab that is no longer running, newest first, and
    (folder, sentence) for each that cannot be read. Folders of a live session are left out;
    one that crashed before its first complete autosave holds nothing and is removed."""
    root = recovery_root()
    if not root.is_dir():
        return [], []
    found: list[RecoveryEntry] = []
    bad: list[tuple[Path, str]] = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.endswith(UNREADABLE_SUFFIX):
            continue
        try:
            entry = read_entry(folder)
        except ProjectError as err:
            bad.append((folder, str(err)))
            continue
        if entry is None or entry.writer_alive():
            continue
        if entry.saved_at is None:
            remove_recovery(folder)
            continue
        found.append(entry)
    found.sort(key=lambda e: str(e.saved_at), reverse=True)
    return found, bad


def read_entry(folder: Path) -> RecoveryEntry | None:
    """A recovery folder's description; None for an empty one (a crash before the first
    write); ProjectError, naming the file, when it cannot be used."""
    file = folder / RECOVERY_FILE
    if not file.exists() and folder.is_dir() and not any(folder.iterdir()):
        return None
    data = read_contract(
        file, format=RECOVERY_FORMAT, version=RECOVERY_VERSION, what="recovery description",
        error=ProjectError,
        missing=f"The recovery folder '{folder}' has no {RECOVERY_FILE}, so it cannot be recovered.",
    )  # fmt: skip
    return RecoveryEntry(folder, data)


def read_recovered(entry: RecoveryEntry) -> Recovered:
    """The work in a recovery folder. ProjectError when its project cannot be read; a run that
    is gone or a checkpoint that cannot be used is a sentence in ``problems`` instead. The
    weights are those of the live run's last checkpoint when a run was training, else the
    autosaved ones; checking them builds the model, so this imports torch."""
    project: Project = read_project(entry.folder / PROJECT_DIR)
    problems = list(project.problems)
    original = entry.original
    spec = project.spec
    if original is not None:
        spec = rebase_dataset(spec, project.folder, original.parent)
    runs = []
    for run in entry.runs:
        if run.is_dir():
            runs.append(run)
        else:
            problems.append(f"The run '{run}' that the autosave listed is gone; it is left out.")
    weights = project.weights
    if entry.live_run is not None:
        weights = _live_weights(entry.live_run, spec, problems) or weights
    return Recovered(spec, original, project.training, weights, tuple(runs), tuple(problems))


def _live_weights(run: Path, spec: ModelSpec, problems: list[str]) -> dict | None:
    """The weights of the last checkpoint of the run that was training at the crash."""
    from engine.project import checked_weights
    from engine.runs.checkpoint import read_checkpoint

    try:
        if read_run(run).status == "running":  # still written by a process that lives on
            return None
        checkpoint = read_checkpoint(run, "last")
        weights = {k: v.numpy().copy() for k, v in checkpoint.model_state().items()}
        return checked_weights(spec, weights, checkpoint.path)
    except (RunFolderError, ProjectError) as err:
        problems.append(f"The weights of the run that was training were not recovered: {err}")
        return None
