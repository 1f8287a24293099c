"""Gate traces of recurrent blocks, recomputed from the weights of nn.LSTM / nn.GRU / nn.RNN.

torch's recurrent modules do not expose their gates, so the probe replays the cell equations
(torch's own, gate order LSTM i,f,g,o and GRU r,z,n) one step at a time. The replay starts from
zero states like the module's forward and leaves out inter-layer dropout, i.e. it shows what
the block computes in eval mode. tests/engine/test_probes_recurrent.py holds it to the module's
own outputs.
"""

from __future__ import annotations

from types import MappingProxyType, SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.probes.common import ProbeError, eval_mode, freeze, get_block, model_device
from engine.probes.snapshots import GATE_NAMES, LayerTrace, RecurrentTrace

# Cell equations written once for both array libraries; `xw` is W_ih x_t + b_ih and
# `hw` is W_hh h_{t-1} + b_hh, so one step costs a single small matrix product.
_NUMPY = SimpleNamespace(
    # The tanh form of the logistic cannot overflow, and overflow warnings are errors here.
    sigmoid=lambda v: 0.5 * np.tanh(0.5 * v) + 0.5,
    tanh=np.tanh,
    relu=lambda v: np.maximum(v, 0),
)
_TORCH = SimpleNamespace(sigmoid=torch.sigmoid, tanh=torch.tanh, relu=torch.relu)


def _cell(mode: str, ops: SimpleNamespace, xw, hw, h, c, size: int):
    """One time step: returns (values in GATE_NAMES order, new h, new c)."""
    if mode == "LSTM":
        z = xw + hw
        i = ops.sigmoid(z[..., :size])
        f = ops.sigmoid(z[..., size : 2 * size])
        g = ops.tanh(z[..., 2 * size : 3 * size])
        o = ops.sigmoid(z[..., 3 * size :])
        c = f * c + i * g
        h = o * ops.tanh(c)
        return (i, f, g, o, c, h), h, c
    if mode == "GRU":
        r = ops.sigmoid(xw[..., :size] + hw[..., :size])
        u = ops.sigmoid(xw[..., size : 2 * size] + hw[..., size : 2 * size])
        n = ops.tanh(xw[..., 2 * size :] + r * hw[..., 2 * size :])
        h = n + u * (h - n)  # (1 - u) * n + u * h with one operation fewer
        return (r, u, n, h), h, c
    act = ops.tanh if mode == "RNN_TANH" else ops.relu
    h = act(xw + hw)
    return (h,), h, c


def check_recurrent(module: nn.Module, block_id: str) -> nn.RNNBase:
    """`module` if the probes can replay it, else a ProbeError that says why."""
    if not isinstance(module, nn.RNNBase):
        raise ProbeError(
            f"Block '{block_id}' is a {type(module).__name__}, not a recurrent block "
            "(LSTM, GRU or RNN); pick a recurrent block to see its gates."
        )
    if module.mode not in GATE_NAMES:
        raise ProbeError(f"Block '{block_id}': recurrent mode {module.mode!r} is not supported.")
    if getattr(module, "proj_size", 0):
        raise ProbeError(
            f"Block '{block_id}': LSTM with proj_size={module.proj_size} is not supported by "
            "the gate probe; set proj_size to 0."
        )
    return module


def _weights(module: nn.RNNBase, layer: int, direction: int) -> tuple[torch.Tensor, ...]:
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    w_ih = getattr(module, "weight_ih" + suffix)
    w_hh = getattr(module, "weight_hh" + suffix)
    if module.bias:
        return w_ih, w_hh, getattr(module, "bias_ih" + suffix), getattr(module, "bias_hh" + suffix)
    zeros = w_ih.new_zeros(w_ih.shape[0])
    return w_ih, w_hh, zeros, zeros


def _directions(module: nn.RNNBase) -> range:
    return range(2 if module.bidirectional else 1)


def _trace_numpy(module: nn.RNNBase, x: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """(layer, direction, (gates, T, H) array) for every layer and direction, in numpy."""
    mode, size, steps = module.mode, module.hidden_size, x.shape[0]
    names = GATE_NAMES[mode]
    out = []
    for layer in range(module.num_layers):
        outputs = []
        for direction in _directions(module):
            w_ih, w_hh, b_ih, b_hh = (
                w.detach().to("cpu", torch.float32).numpy()
                for w in _weights(module, layer, direction)
            )
            xw = x @ w_ih.T + b_ih
            w_hh_t = np.ascontiguousarray(w_hh.T)
            values = np.empty((len(names), steps, size), dtype=np.float32)
            h = np.zeros(size, dtype=np.float32)
            c = h
            order = range(steps - 1, -1, -1) if direction else range(steps)
            for t in order:
                step, h, c = _cell(mode, _NUMPY, xw[t], h @ w_hh_t + b_hh, h, c, size)
                for k, value in enumerate(step):
                    values[k, t] = value
            out.append((layer, direction, values))
            outputs.append(values[-1])
        x = np.concatenate(outputs, axis=-1)
    return out


def unroll(module: nn.RNNBase, x: torch.Tensor) -> list[list[list[tuple[torch.Tensor, ...]]]]:
    """Replay `module` on a batch-first (N, T, F) tensor with torch ops, step by step.

    Returns values[layer][direction][t] = the step's tensors (N, H) in GATE_NAMES order.
    Differentiable: every hidden state is its own node in the autograd graph, which is what
    the gradient-through-time probe needs.
    """
    mode, size, steps = module.mode, module.hidden_size, x.shape[1]
    layers = []
    for layer in range(module.num_layers):
        per_direction = []
        for direction in _directions(module):
            w_ih, w_hh, b_ih, b_hh = _weights(module, layer, direction)
            xw = F.linear(x, w_ih, b_ih)
            h = x.new_zeros(x.shape[0], size)
            c = h
            values: list = [None] * steps
            for t in range(steps - 1, -1, -1) if direction else range(steps):
                values[t], h, c = _cell(mode, _TORCH, xw[:, t], F.linear(h, w_hh, b_hh), h, c, size)
            per_direction.append(values)
        layers.append(per_direction)
        hidden = [torch.stack([step[-1] for step in values], dim=1) for values in per_direction]
        x = torch.cat(hidden, dim=-1)
    return layers


def _trace_torch(module: nn.RNNBase, x: torch.Tensor) -> list[tuple[int, int, np.ndarray]]:
    with torch.no_grad():
        layers = unroll(module, x.unsqueeze(0))
        stacked = [
            (layer, direction, torch.stack([torch.stack(s, 0) for s in values], dim=1)[:, :, 0])
            for layer, per_direction in enumerate(layers)
            for direction, values in enumerate(per_direction)
        ]
        # One device-to-host copy for the whole block instead of one per gate.
        flat = torch.stack([v for _, _, v in stacked]).to("cpu", torch.float32).numpy()
    return [(layer, direction, flat[k]) for k, (layer, direction, _) in enumerate(stacked)]


def _sequence(x: torch.Tensor | np.ndarray, block_id: str) -> torch.Tensor:
    tensor = torch.as_tensor(x)
    if tensor.dim() == 3 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() != 2:
        raise ProbeError(
            f"Block '{block_id}': the gate probe takes one sequence shaped (T, features) or "
            f"(1, T, features), got {tuple(tensor.shape)}."
        )
    return tensor


def trace_recurrent_module(
    module: nn.RNNBase, x_seq: torch.Tensor | np.ndarray, block_id: str = "", backend: str = "numpy"
) -> RecurrentTrace:
    """Gates and states of `module` on the sequence it receives, `x_seq` (T, F) or (1, T, F).

    backend "numpy" replays on CPU copies of the weights (cheaper for small blocks, see
    bench/probe_cost.py); "torch" replays on the module's device.
    """
    module = check_recurrent(module, block_id)
    x = _sequence(x_seq, block_id)
    if x.shape[1] != module.input_size:
        raise ProbeError(
            f"Block '{block_id}' expects {module.input_size} features per step, "
            f"the sequence has {x.shape[1]}."
        )
    if backend == "numpy":
        raw = _trace_numpy(module, x.detach().to("cpu", torch.float32).numpy())
    elif backend == "torch":
        weight = module.weight_ih_l0
        raw = _trace_torch(module, x.detach().to(weight.device, weight.dtype))
    else:
        raise ProbeError(f"Unknown gate-probe backend {backend!r}; use 'numpy' or 'torch'.")
    names = GATE_NAMES[module.mode]
    layers = []
    for layer, direction, values in raw:
        values = freeze(np.ascontiguousarray(values))
        gates = MappingProxyType({name: values[k] for k, name in enumerate(names)})
        layers.append(LayerTrace(layer, direction, gates))
    return RecurrentTrace(block_id, module.mode, tuple(layers))


class _InputCaptured(Exception):
    """Raised by a pre-hook to stop the forward pass once the block's input is known."""


def block_input(model: nn.Module, block_id: str, x: torch.Tensor) -> torch.Tensor:
    """The tensor that block `block_id` receives when `model` runs on `x` (eval, no grad).

    The forward pass stops at the block, so the layers after it cost nothing.
    """
    block = get_block(model, block_id)
    captured: list[torch.Tensor] = []

    def pre_hook(_module, args):
        captured.append(args[0])
        raise _InputCaptured

    handle = block.register_forward_pre_hook(pre_hook)
    try:
        with torch.no_grad(), eval_mode(model):
            model(x)
    except _InputCaptured:
        pass
    finally:
        handle.remove()
    if not captured:
        raise ProbeError(f"Block '{block_id}' was not reached in the model's forward pass.")
    return captured[0]


def recurrent_trace(
    model: nn.Module, block_id: str, x_seq: torch.Tensor | np.ndarray, backend: str = "numpy"
) -> RecurrentTrace:
    """Gate trace of block `block_id` when the model's input is `x_seq` ((T, F) or (1, T, F))."""
    module = check_recurrent(get_block(model, block_id), block_id)
    x = torch.as_tensor(x_seq)
    x = x.unsqueeze(0) if x.dim() == 2 else x
    inp = block_input(model, block_id, x.to(model_device(model), module.weight_ih_l0.dtype))
    if not module.batch_first:
        inp = inp.transpose(0, 1)
    return trace_recurrent_module(module, inp, block_id, backend)
