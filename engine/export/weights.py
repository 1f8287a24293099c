"""Reading weights back in: .safetensors and .pt state_dicts, checked whole before anything loads.

Safety rule: a .pt file is a pickle, and unpickling can run arbitrary code, so it is read only
with ``torch.load(weights_only=True)`` — PyTorch's restricted unpickler that accepts tensors and
plain containers and refuses everything else. Nothing here ever unpickles beyond that.

All-or-nothing rule: names and shapes are compared with the model's before a single value is
copied, and every mismatch goes into one WeightsError, so a model is never half-loaded.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported when a function needs it, so the GUI can open without it
    import numpy as np
    import torch
    from torch import nn

    from engine.model.spec import ModelSpec

WEIGHT_EXTENSIONS = {
    ".safetensors": "safetensors",
    ".pt": "PyTorch state_dict",
    ".pth": "PyTorch state_dict",
}
_MAX_LISTED = 12  # mismatches listed per kind; the rest are counted


class WeightsError(ValueError):
    """Weights that cannot be read or do not fit the model; the message names the file."""


@dataclass(frozen=True)
class LoadReport:
    path: Path
    tensors: int
    values: int
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return f"Loaded {self.tensors} tensors ({self.values:,} values) from {self.path.name}."


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors or .pt file, on the CPU, by name; WeightsError if unreadable."""
    return _read(Path(path))[0]


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors or .pt file as numpy arrays (what the GUI may hold)."""
    return state_to_numpy(read_state_dict(path))


def load_weights(model: nn.Module, path: str | os.PathLike) -> LoadReport:
    """Check a file's tensors against ``model`` and copy them in, all or nothing."""
    path = Path(path)
    state, metadata = _read(path)
    apply_state(model, state, source=f"'{path.name}'")
    return LoadReport(path, len(state), sum(t.numel() for t in state.values()), metadata)


def load_weights_into_spec(spec: ModelSpec, path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a weights file, check it fits ``spec``'s architecture, and return it as numpy arrays."""
    from engine.nn.build import build_model

    model = _fresh_model(spec, build_model)
    load_weights(model, path)
    return state_to_numpy(model.state_dict())


def apply_state(model: nn.Module, state: Mapping[str, Any], *, source: str = "the weights") -> None:
    """Copy ``state`` (tensors or numpy arrays by name) into ``model`` after checking every one."""
    import torch

    tensors = {name: torch.as_tensor(value) for name, value in state.items()}
    problems = mismatches(model, tensors)
    if problems:
        raise WeightsError(f"Cannot load {source} into this model: {problems}")
    with torch.no_grad():
        model.load_state_dict(tensors, strict=True)


def mismatches(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    """A readable list of missing, unexpected and wrongly shaped tensors; '' when they all fit."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    got = {name: tuple(t.shape) for name, t in state.items()}
    missing = [n for n in expected if n not in got]
    unexpected = [n for n in got if n not in expected]
    wrong = [
        f"{n} (expected {_shape(expected[n])}, got {_shape(got[n])})"
        for n in expected
        if n in got and expected[n] != got[n]
    ]
    count = len(missing) + len(unexpected) + len(wrong)
    if not count:
        return ""
    lines = [f"{count} tensor{'s do' if count > 1 else ' does'} not match."]
    for title, names in (
        ("missing from the file", missing),
        ("not in the model", unexpected),
        ("wrong shape", wrong),
    ):
        if names:
            shown = ", ".join(names[:_MAX_LISTED])
            more = f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
            lines.append(f"  {title}: {shown}{more}")
    lines.append("Load weights exported from a model with the same blocks (ids and sizes).")
    return "\n".join(lines)


def state_to_numpy(state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Detached CPU numpy copies, so that no live tensor leaves the engine."""
    import torch

    out = {}
    for name, t in state.items():
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16
            t = t.float()
        out[name] = t.numpy().copy()
    return out


# ---------------------------------------------------------------- reading files


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    kind = WEIGHT_EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(set(WEIGHT_EXTENSIONS)))
        raise WeightsError(
            f"Cannot read weights from '{path.name}': the extension '{path.suffix or '(none)'}' "
            f"is not a weights format. Use one of {known}."
        )
    if not path.exists():
        raise WeightsError(f"Cannot read '{path}': the file does not exist.")
    if path.is_dir():
        raise WeightsError(f"Cannot read '{path}': it is a folder, not a weights file.")
    if path.stat().st_size == 0:
        raise WeightsError(f"Cannot read '{path.name}': the file is empty.")
    if kind == "safetensors":
        state, metadata = _read_safetensors(path)
    else:
        state, metadata = _read_pt(path), {}
    if not state:
        raise WeightsError(f"'{path.name}' holds no tensors.")
    return state, metadata


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = dict(fh.metadata() or {})
            state = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 (not a dict)
    except OSError as err:
        raise WeightsError(f"Cannot read '{path}': {err.strerror or err}.") from None
    except Exception as err:  # safetensors raises its own SafetensorError and others on bad data
        raise WeightsError(
            f"'{path.name}' is not a valid safetensors file (it may be truncated or corrupt): {err}"
        ) from None
    return state, metadata


def _read_pt(path: Path) -> dict[str, torch.Tensor]:
    import pickle

    import torch

    try:
        with warnings.catch_warnings():
            # torch.load warns before it refuses a TorchScript archive; the refusal below is the message.
            warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
            # ... and that a pickle protocol is not its default: whether the file loads or is
            # refused below, that is the message, not a library's note on stderr.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # The restricted unpickler refused a global: the file holds Python objects beyond tensors,
        # which could run code if unpickled. Name the global; torch's advice to allowlist it is
        # not something to offer here.
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        raise WeightsError(
            f"Refused to load '{path.name}': it contains Python objects other than tensors"
            f"{f' ({found.group(1)})' if found else ''}, and loading those could run code hidden "
            f"in the file. Only plain state_dicts (tensors by name) are read; save one with "
            f"torch.save(model.state_dict(), path), or use .safetensors."
        ) from None
    except RuntimeError as err:
        if "TorchScript" in str(err):
            raise WeightsError(
                f"'{path.name}' is a TorchScript model, not a state_dict — export the weights as "
                f".pt (state_dict) or .safetensors and import that."
            ) from None
        raise WeightsError(
            f"'{path.name}' is not a readable PyTorch file (it may be corrupt): {err}"
        ) from None
    except OSError as err:
        raise WeightsError(f"Cannot read '{path}': {err.strerror or err}.") from None
    except (
        Exception
    ) as err:  # truncated zips and pickles raise EOFError, ValueError, zipfile errors
        raise WeightsError(
            f"'{path.name}' is not a readable PyTorch file (it may be corrupt): {err}"
        ) from None
    return _as_state_dict(obj, path)


def _as_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    import torch

    # Training scripts often save {"state_dict": ..., "epoch": ...}; take the state_dict inside.
    if isinstance(obj, Mapping) and not _all_tensors(obj):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), Mapping) and _all_tensors(obj[key]):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not _all_tensors(obj):
        raise WeightsError(
            f"'{path.name}' does not hold a state_dict (a mapping of names to tensors) but "
            f"{type(obj).__name__} — save one with torch.save(model.state_dict(), path)."
        )
    return {
        str(name): t.detach().to("cpu", copy=False)
        for name, t in obj.items()
        if isinstance(t, torch.Tensor)
    }


def _all_tensors(obj: Mapping) -> bool:
    import torch

    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _fresh_model(spec: ModelSpec, build) -> nn.Module:
    import torch

    # Only the names and shapes matter here; forking the RNG keeps the caller's random stream
    # (a training run's, say) where it was.
    with torch.random.fork_rng(devices=[]):
        return build(spec)
