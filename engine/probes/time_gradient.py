"""Gradient through time: how much of the loss's gradient reaches each step of a recurrent block.

nn.LSTM/GRU/RNN compute their whole sequence in one fused op, so autograd cannot tell how much
of dL/dh_t comes back through h_{t+1}, h_{t+2}, ... The probe swaps the block's output for a
step-by-step replay of the same weights (engine.probes.recurrent.unroll), in which every h_t is
its own autograd node, and asks autograd for dL/dh_t only: parameter .grad fields are never
written, so a trainer's gradients and optimiser state are left alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from engine.probes.common import (
    ProbeError,
    as_input,
    eval_mode,
    frozen_array,
    get_block,
    model_device,
    model_dtype,
)
from engine.probes.recurrent import check_recurrent, unroll
from engine.probes.snapshots import TimeGradient

# The replay and torch's fused kernels agree to ~1e-6 of the states' size; a larger gap means
# the block does something the replay does not, and its gradients would describe a different
# network. Relative too: states of an exploding RNN reach 1e6 and more, where float32 rounding
# alone is larger than any absolute bound.
_MATCH_ATOL = 1e-4
_MATCH_RTOL = 1e-4


def _block_output(module: nn.RNNBase, hidden: list[list[torch.Tensor]], original):
    """Rebuild what the block returns from the replayed last-layer hidden states."""
    sequence = torch.cat([torch.stack(h, dim=1) for h in hidden], dim=-1)
    if isinstance(original, tuple):  # a plain nn.LSTM/GRU/RNN: (output, state)
        return (sequence if module.batch_first else sequence.transpose(0, 1), *original[1:])
    if getattr(module, "return_sequence", True):
        return sequence if module.batch_first else sequence.transpose(0, 1)
    # The last step as the block defines it: each direction's final state side by side.
    return torch.cat([hidden[0][-1], *(h[0] for h in hidden[1:])], dim=-1)


def _check_same(block_id: str, replayed, original) -> None:
    a = replayed[0] if isinstance(replayed, tuple) else replayed
    b = original[0] if isinstance(original, tuple) else original
    if a.shape == b.shape and not torch.isfinite(b).all():
        raise ProbeError(
            f"Block '{block_id}' overflowed: its hidden states are no longer finite numbers (the "
            "exploding gradient, or a learning rate far too high), so no gradient can be traced "
            "through it at this step."
        )
    same = torch.allclose(a.detach(), b.detach(), atol=_MATCH_ATOL, rtol=_MATCH_RTOL)
    if a.shape != b.shape or not same:
        raise ProbeError(
            f"Block '{block_id}' returns something other than its recurrent output sequence "
            "or last step; the gradient-through-time probe cannot follow it."
        )


def recurrent_gradient_flow(
    model: nn.Module,
    block_id: str,
    x_seq: torch.Tensor | np.ndarray,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    target: torch.Tensor | np.ndarray,
) -> TimeGradient:
    """Per-step ||dL/dh_t|| of block `block_id` for the model input `x_seq` ((1, T, F) or (T, F)).

    Runs in eval mode (no dropout noise, BatchNorm statistics untouched) and restores the
    mode; never writes a parameter's .grad.
    """
    module = check_recurrent(get_block(model, block_id), block_id)
    x = as_input(x_seq, model)
    x = x.unsqueeze(0) if x.dim() == 2 else x
    target = torch.as_tensor(target).to(model_device(model))
    if target.is_floating_point():
        target = target.to(model_dtype(model))
    hidden: list[list[torch.Tensor]] = []

    def hook(_module, args, output):
        # Cut the graph at the block's input: dL/dh_t depends only on what comes after.
        inp = args[0].detach()
        inp = inp if module.batch_first else inp.transpose(0, 1)
        layers = unroll(module, inp.requires_grad_(True))
        hidden.extend([step[-1] for step in values] for values in layers[-1])
        replayed = _block_output(module, hidden, output)
        _check_same(block_id, replayed, output)
        return replayed

    handle = module.register_forward_hook(hook)
    try:
        with torch.enable_grad(), eval_mode(model):
            loss = loss_fn(model(x), target)
    finally:
        handle.remove()
    if loss.numel() != 1:
        raise ProbeError(
            f"The loss for block '{block_id}' has shape {tuple(loss.shape)}; the gradient probe "
            "needs a scalar loss (use reduction='mean' or 'sum')."
        )
    flat = [h for direction in hidden for h in direction]
    grads = torch.autograd.grad(loss, flat, allow_unused=True, materialize_grads=True)
    steps = len(hidden[0])
    # One host copy of (directions, T) squared norms; each dL/dh_t is (N, H).
    squares = torch.stack([g.detach().float().pow(2).sum() for g in grads]).view(-1, steps)
    squares = squares.cpu().numpy().astype(np.float64)
    return TimeGradient(
        block_id=block_id,
        grad_norm=frozen_array(np.sqrt(squares.sum(axis=0))),
        by_direction=frozen_array(np.sqrt(squares)),
        loss=float(loss.detach()),
    )
