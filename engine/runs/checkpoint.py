"""Checkpoints of a run: weights, optimiser state, RNG states and progress, as a safetensors
file of tensors plus a JSON file of everything else. Never a pickle.

``checkpoints/last.*`` is rewritten at each checkpoint; ``checkpoints/best.*`` is a hard link to
(or copy of) the last one whenever the validation metric improved. Each pair shares a token (in
the safetensors metadata and the JSON), so a pair torn by a crash between the two renames is
caught on reading instead of mixing two checkpoints.

A checkpoint is taken on the training thread (copy_checkpoint: CPU copies, so the run can go on
at once) and written by the run's writer thread (write_checkpoint, engine/runs/writer.py).
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.contracts import read_contract
from engine.runs.folder import CHECKPOINTS, RunFolderError, now_iso, write_json_atomic

CHECKPOINT_FORMAT = "layerlab.checkpoint"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class Progress:
    """Where a run is: what a resumed run starts from besides the tensors."""

    epochs_done: int
    step: int
    samples: int
    base_lr: float  # the learning rate before the schedule's factor (live changes included)
    grad_clip: float | None


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back: its tensors (CPU) and its JSON description."""

    path: Path  # the .safetensors file
    tensors: dict[str, torch.Tensor]
    info: dict[str, Any]

    @property
    def progress(self) -> Progress:
        p = self.info["progress"]
        return Progress(p["epochs_done"], p["step"], p["samples"], p["base_lr"], p["grad_clip"])

    def model_state(self) -> dict[str, torch.Tensor]:
        return {k[6:]: v for k, v in self.tensors.items() if k.startswith("model/")}

    def optimizer_state(self) -> dict[str, Any]:
        """The optimiser's state_dict as torch.optim expects it."""
        state: dict[int, dict[str, Any]] = {}
        for index, values in self.info["optimizer"]["state"].items():
            state[int(index)] = dict(values)
        for key, tensor in self.tensors.items():
            if key.startswith("optimizer/"):
                _, index, name = key.split("/", 2)
                state.setdefault(int(index), {})[name] = tensor
        return {"state": state, "param_groups": self.info["optimizer"]["param_groups"]}

    def restore(
        self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, shuffle_rng: torch.Generator
    ) -> None:
        """Load the weights, the optimiser state and the RNG states into a fresh run's objects;
        RunFolderError naming the file when the checkpoint is of another architecture."""
        from engine.export.weights import WeightsError, apply_state

        try:
            apply_state(model, self.model_state(), source=f"'{self.path}'")
        except WeightsError as err:
            raise RunFolderError(
                f"{err}\nThe checkpoint belongs to another architecture than this run's model."
            ) from None
        try:
            optimizer.load_state_dict(self.optimizer_state())
        except (ValueError, KeyError, RuntimeError) as err:
            raise RunFolderError(
                f"The optimiser state in '{self.path}' does not fit this run's optimiser ({err})."
            ) from None
        torch.set_rng_state(self.tensors["rng/torch"])
        shuffle_rng.set_state(self.tensors["rng/shuffle"])
        cuda = [self.tensors[k] for k in sorted(self.tensors) if k.startswith("rng/cuda/")]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        rng = self.info["rng"]
        random.setstate((rng["python"][0], tuple(rng["python"][1]), rng["python"][2]))
        np_state = rng["numpy"]
        np.random.set_state((np_state[0], np.array(np_state[1], dtype=np.uint32), *np_state[2:]))


@dataclass(frozen=True)
class CheckpointCopy:
    """A checkpoint taken but not yet written: CPU copies of every tensor (the training goes on
    changing the originals) and its JSON description. Made on the training thread, written by
    the run's writer thread."""

    tensors: dict[str, torch.Tensor]
    info: dict[str, Any]


def copy_checkpoint(
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle_rng: torch.Generator,
    progress: Progress,
    metrics: dict[str, Any] | None,
    reason: str,
) -> CheckpointCopy:
    """Take a checkpoint of the run as it is now, as copies the next step cannot change."""
    tensors = {f"model/{k}": _copy(v) for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in opt["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{index}/{name}"] = _copy(value)
            else:
                scalars.setdefault(str(index), {})[name] = value
    tensors["rng/torch"] = torch.get_rng_state()  # get_state() returns a new tensor
    tensors["rng/shuffle"] = shuffle_rng.get_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = state
    py_state = random.getstate()
    np_state = np.random.get_state()
    info = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "token": f"{progress.step}-{time.time_ns()}",
        "written_at": now_iso(),
        "reason": reason,  # epoch, finished, stopped, failed
        "progress": dict(progress.__dict__),
        "metrics": copy.deepcopy(metrics),
        "optimizer": {"state": scalars, "param_groups": copy.deepcopy(opt["param_groups"])},
        "rng": {
            "python": [py_state[0], list(py_state[1]), py_state[2]],
            "numpy": [np_state[0], np_state[1].tolist(), *(_py(v) for v in np_state[2:])],
        },
    }
    return CheckpointCopy(tensors, info)


def write_checkpoint(run_folder: Path, taken: CheckpointCopy) -> dict[str, Any]:
    """Write ``checkpoints/last.safetensors`` and ``last.json`` (tensors first, each renamed
    into place); returns the JSON written."""
    from safetensors.torch import save_file

    folder = run_folder / CHECKPOINTS
    target = folder / "last.safetensors"
    metadata = {"layerlab_checkpoint": taken.info["token"], "format": "pt"}
    try:
        folder.mkdir(exist_ok=True)
        tmp = folder / ".last.safetensors.tmp"
        save_file(taken.tensors, str(tmp), metadata=metadata)
        os.replace(tmp, target)
    except OSError as err:
        raise RunFolderError(
            f"Cannot write the checkpoint '{target}': {err.strerror or err}."
        ) from None
    write_json_atomic(folder / "last.json", taken.info)
    return taken.info


def save_checkpoint(run_folder: Path, **state: Any) -> dict[str, Any]:
    """Take and write a checkpoint at once (``state``: copy_checkpoint's arguments)."""
    return write_checkpoint(run_folder, copy_checkpoint(**state))


def keep_as_best(run_folder: Path, info: dict[str, Any] | None = None) -> None:
    """Make the last checkpoint also the best one (a hard link: no second write)."""
    folder = run_folder / CHECKPOINTS
    tmp = folder / ".best.safetensors.tmp"
    tmp.unlink(missing_ok=True)
    try:
        os.link(folder / "last.safetensors", tmp)
    except OSError:  # a file system without hard links
        shutil.copyfile(folder / "last.safetensors", tmp)
    os.replace(tmp, folder / "best.safetensors")
    if info is None:
        info = json.loads((folder / "last.json").read_text(encoding="utf-8"))
    write_json_atomic(folder / "best.json", info)


def read_checkpoint(run_folder: str | os.PathLike, which: str = "last") -> Checkpoint:
    """The ``which`` ("last" or "best") checkpoint of a run folder; RunFolderError naming the
    file when it is missing, corrupt, torn or of a newer format."""
    from safetensors import SafetensorError, safe_open

    folder = Path(run_folder) / CHECKPOINTS
    meta_file, file = folder / f"{which}.json", folder / f"{which}.safetensors"
    if not meta_file.exists() or not file.exists():
        raise RunFolderError(
            f"The run '{Path(run_folder).name}' has no {which} checkpoint ('{file}' is missing): "
            "it ended before its first checkpoint. Start it again instead of resuming."
        )
    info = read_contract(
        meta_file, format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION,
        what="checkpoint description", error=RunFolderError, missing=f"'{meta_file}' is missing.",
    )  # fmt: skip
    try:
        with safe_open(str(file), framework="pt", device="cpu") as fh:
            token = (fh.metadata() or {}).get("layerlab_checkpoint")
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118
    except (OSError, SafetensorError, ValueError) as err:
        raise RunFolderError(
            f"The checkpoint '{file}' is corrupt or truncated ({err}); resume from the other "
            "checkpoint (--from best or last) or start the run again."
        ) from None
    if token != info.get("token"):
        raise RunFolderError(
            f"The checkpoint '{file}' does not match '{meta_file}' (a write was cut short); "
            "resume from the other checkpoint or start the run again."
        )
    return Checkpoint(file, tensors, info)


def _copy(t: torch.Tensor) -> torch.Tensor:
    # A new CPU tensor, never a view: the writer thread reads it while the next steps update the
    # original in place. Contiguous, because safetensors wants that (channels-last conv weights
    # are not); one copy does both.
    out = torch.empty(t.shape, dtype=t.dtype, device="cpu")
    out.copy_(t.detach())
    return out


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
