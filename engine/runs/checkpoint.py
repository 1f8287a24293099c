"""Checkpoints of a run: weights, optimiser state, RNG states and progress, as a safetensors
file of tensors plus a JSON file of everything else. Never a pickle.

``checkpoints/last.*`` is rewritten at each checkpoint; ``checkpoints/best.*`` is a hard link to
(or copy of) the last one whenever the validation metric improved. The safetensors file's
metadata holds the JSON description too, so the safetensors file alone is a whole checkpoint
and a crash between the two renames loses nothing. Checkpoints written before that (without
it) are read with their JSON file, which shares a token with the safetensors file, so a pair
torn by a crash is refused instead of mixing two checkpoints.

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

from engine.contracts import check_contract, read_contract
from engine.runs.folder import (
    CHECKPOINTS,
    RunFolderError,
    json_text,
    now_iso,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)

CHECKPOINT_FORMAT = "layerlab.checkpoint"
CHECKPOINT_VERSION = 1
# The safetensors metadata keys: the pair's shared token, and the whole JSON description.
TOKEN_KEY = "layerlab_checkpoint"
INFO_KEY = "layerlab_checkpoint_info"


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
        state = self.optimizer_state()
        # The kernel (fused, foreach) is this run's choice for its device, not the saved run's:
        # set before loading, which moves Adam's step counts where a fused kernel wants them.
        group = optimizer.param_groups[0]
        kernels = {k: group[k] for k in ("fused", "foreach") if k in group}
        state["param_groups"] = [{**group, **kernels} for group in state["param_groups"]]
        try:
            optimizer.load_state_dict(state)
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
    """A checkpoint taken but not yet written: one CPU byte buffer holding a copy of every
    tensor (the training goes on changing the originals), laid out as the safetensors file's
    data, with that file's header, and its JSON description. Made on the training thread,
    written by the run's writer thread."""

    data: torch.Tensor  # uint8: the tensors' bytes, one after the other
    layout: dict[str, dict[str, Any]]  # name: safetensors dtype, shape, data_offsets in data
    info: dict[str, Any]

    @property
    def tensors(self) -> dict[str, torch.Tensor]:
        """The copies as tensors (views of ``data``)."""
        return {
            name: self.data[a:b].view(_TORCH_DTYPES[t["dtype"]]).reshape(t["shape"])
            for name, t in self.layout.items()
            for a, b in [t["data_offsets"]]
        }


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
    sources = {f"model/{k}": v for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in opt["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                sources[f"optimizer/{index}/{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    sources["rng/torch"] = torch.get_rng_state()
    sources["rng/shuffle"] = shuffle_rng.get_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            sources[f"rng/cuda/{i}"] = state
    data, layout = _pack(sources)
    info = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "token": f"{progress.step}-{time.time_ns()}",
        "written_at": now_iso(),
        "reason": reason,  # epoch, finished, stopped, failed
        "progress": dict(progress.__dict__),
        "metrics": copy.deepcopy(metrics),
        "optimizer": {"state": scalars, "param_groups": copy.deepcopy(opt["param_groups"])},
        "rng": _host_rng_states(),
    }
    return CheckpointCopy(data, layout, info)


_RNG_LISTS: dict[str, tuple[Any, list[int]]] = {}  # the last state of each, and its list


def _host_rng_states() -> dict[str, list]:
    """Python's and numpy's RNG states as JSON lists. The training loop draws from neither, so
    their states rarely change between checkpoints: the 624-number lists are made again only
    when they did (numpy's tolist alone took 76 µs of the training thread's checkpoint)."""
    py_state, np_state = random.getstate(), np.random.get_state()
    last = _RNG_LISTS.get("python")
    if last is None or last[0] != py_state[1]:
        _RNG_LISTS["python"] = last = (py_state[1], list(py_state[1]))
    python = last[1]
    last = _RNG_LISTS.get("numpy")
    if last is None or not np.array_equal(last[0], np_state[1]):
        _RNG_LISTS["numpy"] = last = (np_state[1], np_state[1].tolist())
    return {
        "python": [py_state[0], python, py_state[2]],
        "numpy": [np_state[0], last[1], *(_py(v) for v in np_state[2:])],
    }


def _pack(sources: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, dict[str, Any]]]:
    """Every tensor's bytes copied into one CPU buffer by one torch.cat, and where each lies.

    One copy instead of one per tensor, and the writer thread writes the buffer in one call:
    safetensors.torch.save_file spent ~20 µs of Python per tensor on that thread, while the
    training thread waited for the interpreter lock (for the digits CNN's 34 tensors, 0.85 ms a
    checkpoint against 0.1 now). Wider dtypes go first, as safetensors orders them, so every
    tensor starts at a multiple of its element size and the views stay aligned."""
    for name, t in sources.items():
        if t.dtype not in _SAFETENSORS_DTYPES:
            raise RunFolderError(
                f"The checkpoint cannot hold '{name}': safetensors has no {t.dtype} tensors."
            )
    names = sorted(sources, key=lambda n: (-sources[n].element_size(), n))
    parts, layout, offset = [], {}, 0
    for name in names:
        t = sources[name].detach()
        part = t.reshape(-1).view(torch.uint8)  # a copy first where t is not contiguous
        if part.device.type != "cpu":
            part = part.cpu()
        parts.append(part)
        layout[name] = {"dtype": _SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + part.numel()]}  # fmt: skip
        offset += part.numel()
    data = torch.cat(parts) if parts else torch.empty(0, dtype=torch.uint8)
    return data, layout


def write_checkpoint(run_folder: Path, taken: CheckpointCopy) -> dict[str, Any]:
    """Write ``checkpoints/last.safetensors`` and ``last.json`` (tensors first, each renamed
    into place); returns the JSON written.

    The safetensors file's metadata holds the whole JSON too (INFO_KEY), so that file alone is
    the checkpoint: a crash between the two renames leaves a whole new checkpoint beside a
    stale last.json, not a torn pair. last.json is the same text, for people and tools."""
    folder = run_folder / CHECKPOINTS
    target = folder / "last.safetensors"
    text = json_text(taken.info)
    metadata = {TOKEN_KEY: taken.info["token"], INFO_KEY: text, "format": "pt"}
    try:
        folder.mkdir(exist_ok=True)
    except OSError as err:
        raise RunFolderError(
            f"Cannot write the checkpoint '{target}': {err.strerror or err}."
        ) from None
    write_safetensors(target, taken.layout, taken.data, metadata)
    write_text_atomic(folder / "last.json", text + "\n")
    return taken.info


def save_checkpoint(run_folder: Path, **state: Any) -> dict[str, Any]:
    """Take and write a checkpoint at once (``state``: copy_checkpoint's arguments)."""
    return write_checkpoint(run_folder, copy_checkpoint(**state))


def keep_as_best(run_folder: Path, info: dict[str, Any] | None = None) -> None:
    """Make the last checkpoint also the best one: hard links to the last pair (each write of
    the last pair makes new files, so the links keep this one), copies where the file system
    has no hard links. ``info``: the last checkpoint's JSON, written again only for a copy."""
    folder = run_folder / CHECKPOINTS
    for name in ("best.safetensors", "best.json"):  # tensors first, as write_checkpoint does
        source, tmp = folder / name.replace("best", "last"), folder / f".{name}.tmp"
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:  # a file system without hard links
            if name == "best.json" and info is not None:
                write_json_atomic(folder / name, info)
                continue
            shutil.copyfile(source, tmp)
        os.replace(tmp, folder / name)


def write_safetensors(
    path: Path, layout: dict[str, dict[str, Any]], data: torch.Tensor, metadata: dict[str, str]
) -> None:
    """Write a safetensors file (atomically): an 8-byte little-endian header length, the JSON
    header (``layout`` and the metadata, padded with spaces to a multiple of 8 bytes), then
    ``data``, the bytes ``layout``'s offsets point into (see _pack). Read back by safetensors
    itself."""
    header = json.dumps({"__metadata__": metadata, **layout}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    body = data.numpy().data if data.numel() else b""
    write_bytes_atomic(path, len(header).to_bytes(8, "little"), header, body)


_SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}  # fmt: skip
_TORCH_DTYPES = {code: dtype for dtype, code in _SAFETENSORS_DTYPES.items()}


def read_checkpoint(run_folder: str | os.PathLike, which: str = "last") -> Checkpoint:
    """The ``which`` ("last" or "best") checkpoint of a run folder; RunFolderError naming the
    file when it is missing, corrupt, torn or of a newer format.

    The description comes from the safetensors file's own metadata (INFO_KEY); a checkpoint
    written before that was kept there is read with its JSON file, whose token must match."""
    from safetensors import SafetensorError, safe_open

    folder = Path(run_folder) / CHECKPOINTS
    meta_file, file = folder / f"{which}.json", folder / f"{which}.safetensors"
    if not file.exists():
        raise RunFolderError(
            f"The run '{Path(run_folder).name}' has no {which} checkpoint ('{file}' is missing): "
            "it ended before its first checkpoint. Start it again instead of resuming."
        )
    try:
        with safe_open(str(file), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118
    except (OSError, SafetensorError, ValueError) as err:
        raise RunFolderError(
            f"The checkpoint '{file}' is corrupt or truncated ({err}); resume from the other "
            "checkpoint (--from best or last) or start the run again."
        ) from None
    if INFO_KEY in metadata:
        try:
            data = json.loads(metadata[INFO_KEY])
        except (ValueError, RecursionError) as err:
            raise RunFolderError(
                f"The description inside '{file}' is not valid JSON ({err}); resume from the "
                "other checkpoint (--from best or last) or start the run again."
            ) from None
        info = check_contract(
            data, f"The checkpoint '{file}'", format=CHECKPOINT_FORMAT,
            version=CHECKPOINT_VERSION, what="checkpoint", error=RunFolderError,
        )  # fmt: skip
        return Checkpoint(file, tensors, info)
    info = read_contract(
        meta_file, format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION,
        what="checkpoint description", error=RunFolderError,
        missing=f"The checkpoint '{file}' has no description: '{meta_file}' is missing.",
    )  # fmt: skip
    if metadata.get(TOKEN_KEY) != info.get("token"):
        raise RunFolderError(
            f"The checkpoint '{file}' does not match '{meta_file}' (a write was cut short); "
            "resume from the other checkpoint or start the run again."
        )
    return Checkpoint(file, tensors, info)


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
