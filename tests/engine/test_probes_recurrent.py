"""The gate replay must reproduce torch's own recurrent outputs (DESIGN.md: a test, not an
assumption)."""

from __future__ import annotations

import itertools
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from engine.probes import GATE_NAMES, ProbeError, recurrent_trace, trace_recurrent_module
from tests.engine._probe_models import recurrent_block, sequence_model

KINDS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
ATOL = 1e-5


def _reference(module: nn.RNNBase, x: torch.Tensor):
    """torch's own output sequence (T, H*dirs) and final states of every layer/direction."""
    with torch.no_grad():
        base = next(c for c in type(module).__mro__ if c in (nn.LSTM, nn.GRU, nn.RNN))
        out, state = base.forward(module, x[None])
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    return out[0], h_n[:, 0], (None if c_n is None else c_n[:, 0])


def _check(
    kind: str,
    features: int,
    hidden: int,
    layers: int,
    bidirectional: bool,
    steps: int,
    bias: bool,
    seed: int,
    backend: str = "numpy",
) -> None:
    torch.manual_seed(seed)
    module = recurrent_block(
        kind, features, hidden, num_layers=layers, bidirectional=bidirectional, bias=bias
    )
    if kind == "rnn_relu":  # keep relu states bounded so float32 tolerance stays meaningful
        with torch.no_grad():
            for p in module.parameters():
                p.mul_(0.5)
    x = torch.randn(steps, features)
    out, h_n, c_n = _reference(module, x)
    trace = trace_recurrent_module(module, x, "rec", backend=backend)
    dirs = 2 if bidirectional else 1
    assert len(trace.layers) == layers * dirs
    assert trace.mode == module.mode
    for layer, direction in itertools.product(range(layers), range(dirs)):
        gates = trace.get(layer, direction).gates
        assert tuple(gates) == GATE_NAMES[module.mode]
        for value in gates.values():
            assert value.shape == (steps, hidden) and value.dtype == np.float32
            assert value.flags.c_contiguous and not value.flags.writeable
        h = gates["hidden"]
        index = layer * dirs + direction  # torch's h_n order
        final = h[0] if direction else h[-1]
        np.testing.assert_allclose(final, h_n[index].numpy(), atol=ATOL, rtol=0)
        if c_n is not None:
            c = gates["cell"]
            np.testing.assert_allclose(
                c[0] if direction else c[-1], c_n[index].numpy(), atol=ATOL, rtol=0
            )
        if layer == layers - 1:  # the output sequence is the last layer's hidden states
            np.testing.assert_allclose(
                h, out[:, direction * hidden : (direction + 1) * hidden].numpy(), atol=ATOL, rtol=0
            )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("layers", "bidirectional"), [(1, False), (2, False), (1, True), (3, True)]
)
def test_replay_matches_module_outputs(kind, layers, bidirectional):
    _check(
        kind,
        features=3,
        hidden=5,
        layers=layers,
        bidirectional=bidirectional,
        steps=12,
        bias=True,
        seed=layers,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_torch_backend_matches_too(kind):
    _check(
        kind,
        features=2,
        hidden=4,
        layers=2,
        bidirectional=True,
        steps=9,
        bias=True,
        seed=1,
        backend="torch",
    )


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    features=st.integers(1, 4),
    hidden=st.integers(1, 6),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
    steps=st.integers(1, 15),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_replay_matches_for_any_size(
    kind, features, hidden, layers, bidirectional, steps, bias, seed
):
    _check(kind, features, hidden, layers, bidirectional, steps, bias, seed)


def test_lstm_cell_state_matches_step_by_step_module():
    torch.manual_seed(0)
    module = recurrent_block("lstm", 2, 6)
    x = torch.randn(10, 2)
    cell = recurrent_trace(nn.Sequential(OrderedDict(rec1=module)), "rec1", x).get(0).gates["cell"]
    state = None
    with torch.no_grad():
        for t in range(10):
            _, state = nn.LSTM.forward(module, x[None, t : t + 1], state)
            np.testing.assert_allclose(cell[t], state[1][0, 0].numpy(), atol=ATOL, rtol=0)


def test_gates_lie_in_their_ranges():
    torch.manual_seed(3)
    gates = (
        trace_recurrent_module(recurrent_block("lstm", 1, 16), torch.randn(30, 1) * 4).get(0).gates
    )
    for name in ("input", "forget", "output"):
        assert gates[name].min() >= 0 and gates[name].max() <= 1
    assert np.abs(gates["candidate"]).max() <= 1


def test_trace_of_a_block_inside_a_model_sees_the_block_input():
    torch.manual_seed(4)
    pre = nn.Linear(2, 3)
    rec = recurrent_block("gru", 3, 4, return_sequence=True)
    model = nn.Sequential(OrderedDict(dense0=pre, rec1=rec, dense2=nn.Linear(4, 1)))
    model.train()
    x = torch.randn(1, 7, 2)
    with torch.no_grad():
        expected = model[:2](x)[0]
    trace = recurrent_trace(model, "rec1", x)
    np.testing.assert_allclose(trace.get(0).gates["hidden"], expected.numpy(), atol=ATOL, rtol=0)
    assert model.training and rec.training  # mode restored


def test_errors_name_the_block():
    model = sequence_model("lstm")
    with pytest.raises(ProbeError, match="dense2"):
        recurrent_trace(model, "dense2", torch.randn(5, 1))
    with pytest.raises(ProbeError, match="nope"):
        recurrent_trace(model, "nope", torch.randn(5, 1))
    with pytest.raises(ProbeError, match="proj_size"):
        trace_recurrent_module(nn.LSTM(1, 4, proj_size=2), torch.randn(5, 1), "lstm9")
    with pytest.raises(ProbeError, match="features"):
        trace_recurrent_module(model.rec1, torch.randn(5, 3), "rec1")
