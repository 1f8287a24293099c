"""Helpers shared by the probes: errors, read-only numpy copies, mode and device handling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from engine.probes.snapshots import ProbeError


def frozen_array(value: torch.Tensor | np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """C-contiguous CPU numpy copy of `value` in `dtype`, marked read-only.

    Read-only because a snapshot is shared: by every callback that receives it in the
    training process, and by every view that shows it in the window; a reader that wants to
    edit one must copy it first.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    out = np.array(value, dtype=dtype, order="C", copy=True)
    out.flags.writeable = False
    return out


def freeze(array: np.ndarray) -> np.ndarray:
    """Mark an array the probe has just built as read-only (no copy) and return it."""
    array.flags.writeable = False
    return array


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter or buffer (CPU for a model with neither)."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """Floating dtype of the model's first floating parameter (float32 if it has none)."""
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def as_input(x: torch.Tensor | np.ndarray, model: nn.Module) -> torch.Tensor:
    """`x` as a tensor on the model's device in the model's floating dtype."""
    tensor = torch.as_tensor(x)
    dtype = model_dtype(model) if tensor.is_floating_point() else tensor.dtype
    return tensor.to(device=model_device(model), dtype=dtype)


def get_block(model: nn.Module, block_id: str) -> nn.Module:
    """The submodule called `block_id`, or a ProbeError listing the blocks there are."""
    try:
        return model.get_submodule(block_id)
    except AttributeError:
        names = ", ".join(name for name, _ in model.named_children()) or "none"
        raise ProbeError(f"The model has no block '{block_id}' (its blocks: {names}).") from None


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode and restore each one's own flag afterwards.

    Each flag is restored separately because a trainer may keep some modules (frozen
    BatchNorm, say) in eval mode while the rest trains.
    """
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training
