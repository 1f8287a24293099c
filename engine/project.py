"""The project format ("layerlab-project", version 1): a folder that keeps a model with
everything trained for it, and the reader that opens any LayerLab file.

A project is a folder, ``NAME.layerlab/``, not a single archive: its runs are run folders that
grow while a run trains (engine/runs, "layerlab.run" v1), TensorBoard reads a folder tree, and
every file in it opens with standard tools (JSON, safetensors). It holds

- ``project.json``: format, version, the model (a model file of format v1, embedded; its
  ``dataset`` is the dataset choice and options), the training settings the panel shows, and
  the weights file's name, tensor count and SHA-256 (or null);
- ``weights.safetensors``: the model's current weights, if any;
- ``runs/``: one run folder per run.

Every file is written to a temporary name and renamed, nothing is a pickle. Reading the folder
needs no torch; checking that saved weights fit the model builds it, so torch is imported only
when a project (or a .safetensors export) has weights. README, "Projects", is the contract.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.contracts import read_contract
from engine.model.spec import ModelSpec, SpecError
from engine.runs.folder import RunFolderError, RunInfo, read_run, write_json_atomic

PROJECT_FORMAT = "layerlab-project"
PROJECT_FORMAT_VERSION = 1
PROJECT_SUFFIX = ".layerlab"
PROJECT_FILE = "project.json"
WEIGHTS_FILE = "weights.safetensors"
RUNS_FOLDER = "runs"
# The panel's settings a project keeps (TrainSettings field names).
TRAINING_KEYS = (
    "optimizer", "lr", "grad_clip", "batch_size", "epochs", "device", "probe_sample_index",
)  # fmt: skip


class ProjectError(ValueError):
    """A project that cannot be read or written; the message names the file and what to do."""


@dataclass(frozen=True)
class Project:
    """What a project folder (or a LayerLab .safetensors export) brings back."""

    folder: Path | None  # None for a model opened from a .safetensors export
    spec: ModelSpec
    training: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, np.ndarray] | None = None
    runs: tuple[RunInfo, ...] = ()
    problems: tuple[str, ...] = ()  # parts that did not open, each a sentence naming its file

    @property
    def file(self) -> Path | None:
        return self.folder / PROJECT_FILE if self.folder else None


def project_folder(path: str | os.PathLike) -> Path | None:
    """The project folder ``path`` names (the folder itself or its project.json), else None."""
    path = Path(path)
    if path.name == PROJECT_FILE:
        return path.parent
    if path.is_dir() and ((path / PROJECT_FILE).exists() or path.suffix == PROJECT_SUFFIX):
        return path
    return None


# ---------------------------------------------------------------- writing


def save_project(
    folder: str | os.PathLike,
    spec: ModelSpec,
    *,
    training: dict[str, Any] | None = None,
    weights: dict[str, np.ndarray] | None = None,
    move_runs: tuple[Path, ...] | list[Path] = (),
    copy_runs: tuple[Path, ...] | list[Path] = (),
) -> tuple[Path, list[str]]:
    """Write a project into ``folder`` (made if new); returns project.json's path and a sentence
    for each run that could not be brought in. Runs in ``move_runs`` (recorded outside any
    project) are moved into runs/, those in ``copy_runs`` (another project's) copied; a run
    still being written stays where it is. ProjectError, with nothing half-written, on failure."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RUNS_FOLDER).mkdir(exist_ok=True)
    except OSError as err:
        raise ProjectError(_cannot_write(folder, err)) from None
    if not os.access(folder, os.W_OK):
        raise ProjectError(_cannot_write(folder, PermissionError(13, "Permission denied")))
    weights_entry = None
    pending = None
    if weights:
        pending, weights_entry = _weights_to_temp(folder, weights)
    data = {
        "format": PROJECT_FORMAT,
        "version": PROJECT_FORMAT_VERSION,
        "model": spec.to_dict(),
        "training": {k: v for k, v in (training or {}).items() if k in TRAINING_KEYS},
        "weights": weights_entry,
    }
    try:
        write_json_atomic(folder / PROJECT_FILE, data)
        if pending is not None:
            os.replace(pending, folder / WEIGHTS_FILE)
        elif (folder / WEIGHTS_FILE).exists():
            (folder / WEIGHTS_FILE).unlink()  # the model has no weights now: none are kept
    except (RunFolderError, OSError) as err:
        if pending is not None:
            with contextlib.suppress(OSError):
                os.unlink(pending)
        if isinstance(err, RunFolderError):  # its sentence names the file and the reason
            raise ProjectError(
                f"The project was not saved, and is as it was before. {err}"
            ) from None
        raise ProjectError(_cannot_write(folder, err)) from None
    problems = [
        p
        for run, move in [(r, True) for r in move_runs] + [(r, False) for r in copy_runs]
        if (p := _bring_run(Path(run), folder / RUNS_FOLDER, move))
    ]
    return folder / PROJECT_FILE, problems


def bring_runs(folder: str | os.PathLike, runs: tuple[Path, ...] | list[Path]) -> list[str]:
    """Move ended runs recorded outside the project in ``folder`` into its runs/ (a run saved
    while it was training, once it ends); a sentence for each that stayed where it was."""
    target = Path(folder) / RUNS_FOLDER
    return [p for run in runs if (p := _bring_run(Path(run), target, True))]


def _weights_to_temp(folder: Path, weights: dict[str, np.ndarray]) -> tuple[str, dict]:
    from safetensors.numpy import save

    # One metadata entry only: safetensors writes several in a per-process order, and the same
    # weights must give the same bytes.
    arrays = {
        name: np.asarray(value, order="C") for name, value in weights.items()
    }  # 0-d stays 0-d
    blob = save(arrays, metadata={"format": "pt"})
    try:
        fd, name = tempfile.mkstemp(prefix=f".{WEIGHTS_FILE}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.chmod(name, 0o644)
    except OSError as err:
        raise ProjectError(_cannot_write(folder / WEIGHTS_FILE, err)) from None
    entry = {
        "file": WEIGHTS_FILE,
        "tensors": len(arrays),
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    return name, entry


def _bring_run(run: Path, runs: Path, move: bool) -> str | None:
    if run.parent.resolve() == runs.resolve():
        return None
    try:
        status = read_run(run).status
    except RunFolderError as err:
        return f"The run '{run.name}' was not brought into the project: {err}"
    if status == "running":
        return (
            f"The run '{run.name}' is still being written, so it stays in '{run.parent}'; "
            "save again when it has ended."
        )
    target = runs / run.name
    n = 2
    while target.exists():
        target, n = runs / f"{run.name}-{n}", n + 1
    try:
        if move:
            shutil.move(str(run), str(target))
        else:
            shutil.copytree(run, target)
    except OSError as err:
        shutil.rmtree(target, ignore_errors=True)
        return f"The run '{run}' could not be brought into '{runs}': {err.strerror or err}."
    return None


def _cannot_write(path: Path, err: OSError) -> str:
    return (
        f"Cannot write the project '{path}': {err.strerror or err}. Save it in a folder you "
        "can write to, or free some disk space."
    )


# ---------------------------------------------------------------- reading


def read_project(path: str | os.PathLike) -> Project:
    """Open a project folder (or its project.json). ProjectError when project.json cannot be
    used; weights or runs that cannot be read become sentences in ``problems`` instead, so the
    rest of the project still opens."""
    folder = project_folder(path) or Path(path)
    file = folder / PROJECT_FILE
    data = read_contract(
        file, format=PROJECT_FORMAT, version=PROJECT_FORMAT_VERSION, what="project",
        error=ProjectError, missing=f"'{folder}' is not a LayerLab project: it has no {PROJECT_FILE}.",
    )  # fmt: skip
    try:
        spec = ModelSpec.from_dict(data.get("model"))
    except SpecError as err:
        raise ProjectError(f"'{file}', its model: {err}") from None
    problems: list[str] = []
    training = _training(data.get("training"), file, problems)
    weights = _project_weights(folder, spec, data.get("weights"), problems)
    runs, run_problems = list_runs(folder / RUNS_FOLDER)
    return Project(folder, spec, training, weights, runs, tuple(problems + run_problems))


def _training(raw: Any, file: Path, problems: list[str]) -> dict[str, Any]:
    from engine.training.settings import SettingsError, TrainSettings

    if not isinstance(raw, dict):
        return {}
    kept = {k: v for k, v in raw.items() if k in TRAINING_KEYS}
    try:
        TrainSettings(**kept).checked()
    except (SettingsError, TypeError) as err:
        problems.append(f"'{file}': the training settings were not used ({err}); defaults apply.")
        return {}
    return kept


def _project_weights(
    folder: Path, spec: ModelSpec, entry: Any, problems: list[str]
) -> dict[str, np.ndarray] | None:
    if not entry:
        return None
    file = folder / WEIGHTS_FILE
    try:
        blob = file.read_bytes()
    except FileNotFoundError:
        problems.append(f"'{file}' is missing, so the model opened without its trained weights.")
        return None
    except OSError as err:
        problems.append(
            f"Cannot read '{file}' ({err.strerror or err}); the model opened without it."
        )
        return None
    if isinstance(entry, dict) and entry.get("sha256") != hashlib.sha256(blob).hexdigest():
        problems.append(
            f"'{file}' is not the weights file this project saved (it was changed, truncated or "
            "replaced), so the model opened without trained weights."
        )
        return None
    try:
        return checked_weights(spec, _arrays(blob), file)
    except ProjectError as err:
        problems.append(f"{err} The model opened without them.")
        return None


def _arrays(blob: bytes) -> dict[str, np.ndarray]:
    from safetensors.numpy import load

    return load(blob)


def checked_weights(
    spec: ModelSpec, weights: dict[str, np.ndarray], file: Path
) -> dict[str, np.ndarray]:
    """``weights`` if their names and shapes are the model's; ProjectError listing every
    mismatch otherwise. Builds the model, so it imports torch."""
    import torch

    from engine.export.weights import mismatches
    from engine.nn.build import build_model

    if not spec.blocks:
        raise ProjectError(f"'{file}' holds weights, but the model has no blocks.")
    model = build_model(spec)
    problem = mismatches(model, {n: torch.from_numpy(np.asarray(a)) for n, a in weights.items()})
    if problem:
        raise ProjectError(f"The weights in '{file}' do not fit the model: {problem}")
    return weights


def list_runs(runs: str | os.PathLike) -> tuple[tuple[RunInfo, ...], list[str]]:
    """The run folders in ``runs``, oldest first, and a sentence for each that cannot be read."""
    runs = Path(runs)
    found, problems = [], []
    if not runs.is_dir():
        return (), []
    for child in sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            found.append(read_run(child))
        except RunFolderError as err:
            problems.append(str(err))
    found.sort(key=lambda r: (str(r.get("started_at") or ""), r.name))
    return tuple(found), problems


def read_safetensors_model(path: str | os.PathLike) -> Project:
    """A LayerLab .safetensors export as a model with its weights: the spec from the file's
    metadata (``layerlab_spec``), the tensors checked against it."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="numpy") as fh:
            metadata = dict(fh.metadata() or {})
            weights = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118
    except FileNotFoundError:
        raise ProjectError(f"Cannot open '{path}': the file does not exist.") from None
    except OSError as err:
        raise ProjectError(f"Cannot open '{path}': {err.strerror or err}.") from None
    except Exception as err:  # safetensors raises its own errors on a damaged file
        raise ProjectError(
            f"'{path.name}' is not a valid safetensors file (it may be truncated or corrupt): {err}"
        ) from None
    text = metadata.get("layerlab_spec")
    if not text:
        raise ProjectError(
            f"'{path.name}' holds weights but no LayerLab model (no 'layerlab_spec' in its "
            "metadata). Open or build the model, then use File > Import Weights."
        )
    try:
        spec = ModelSpec.from_json(text)
    except SpecError as err:
        raise ProjectError(f"'{path.name}', the model in its metadata: {err}") from None
    return Project(None, spec, weights=checked_weights(spec, weights, path))


def rebase_dataset(spec: ModelSpec, old_folder: Path | None, new_folder: Path) -> ModelSpec:
    """``spec`` with a relative dataset path read from ``old_folder`` rewritten to be read from
    ``new_folder`` (relative when it can be, so a project moved with its data still finds it)."""
    from dataclasses import replace

    from engine.data import BUILTIN

    name = spec.dataset
    if not name or name in BUILTIN or Path(name).is_absolute() or old_folder is None:
        return spec
    target = (Path(old_folder) / name).resolve()
    try:
        moved = os.path.relpath(target, Path(new_folder).resolve())
    except ValueError:  # another drive (Windows): no relative path exists
        moved = str(target)
    return spec if moved == name else replace(spec, dataset=Path(moved).as_posix())
