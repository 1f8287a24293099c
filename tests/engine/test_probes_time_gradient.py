"""Gradient through time: vanishing for a vanilla RNN, kept by an LSTM, side-effect free."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from engine.probes import ProbeError, recurrent_gradient_flow
from tests.engine._probe_models import LSTMBlock, recurrent_block, sequence_model

STEPS = 60


def _flow(model, steps=STEPS, seed=0, target=None):
    torch.manual_seed(seed)
    x = torch.randn(1, steps, 1)
    target = torch.ones(1, 1) if target is None else target
    return recurrent_gradient_flow(model, "rec1", x, nn.MSELoss(), target)


def test_vanilla_rnn_gradient_vanishes_through_time():
    torch.manual_seed(0)
    model = sequence_model("rnn_tanh", hidden=16)
    with torch.no_grad():
        for p in model.rec1.parameters():
            p.uniform_(-0.1, 0.1)
    result = _flow(model)
    assert result.grad_norm.shape == (STEPS,) and result.grad_norm.dtype == np.float32
    assert result.grad_norm[-1] > 1e-3
    assert result.grad_norm[0] < 1e-6 * result.grad_norm[-1]


def test_lstm_with_open_forget_gate_keeps_the_gradient():
    torch.manual_seed(0)
    model = sequence_model("lstm", hidden=16)
    with torch.no_grad():  # forget gate biases: torch's gate order is i, f, g, o
        model.rec1.bias_ih_l0[16:32] = 5.0
        model.rec1.bias_hh_l0[16:32] = 0.0
    result = _flow(model)
    assert result.grad_norm[0] > 1e-2 * result.grad_norm[-1]


def test_matches_autograd_through_the_module_itself():
    # dL/dh_T of the last step equals the gradient torch gives for the block's own output.
    torch.manual_seed(1)
    model = sequence_model("gru", hidden=5)
    x, target = torch.randn(1, 8, 1), torch.randn(1, 1)
    out = model.rec1(x).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(nn.MSELoss()(model.dense2(out), target), out)
    result = recurrent_gradient_flow(model, "rec1", x, nn.MSELoss(), target)
    np.testing.assert_allclose(result.grad_norm[-1], grad.norm().item(), rtol=1e-5)
    np.testing.assert_allclose(result.loss, nn.MSELoss()(model(x), target).item(), rtol=1e-6)


@pytest.mark.parametrize("return_sequence", [False, True])
def test_bidirectional_stacked_block_splits_directions(return_sequence):
    torch.manual_seed(2)
    rec = recurrent_block(
        "lstm", 1, 4, num_layers=2, bidirectional=True, return_sequence=return_sequence
    )
    head = nn.Sequential(nn.Flatten(), nn.Linear(8 * (10 if return_sequence else 1), 1))
    model = nn.Sequential(OrderedDict(rec1=rec, head=head))
    result = _flow(model, steps=10)
    assert result.by_direction.shape == (2, 10)
    np.testing.assert_allclose(
        result.grad_norm, np.sqrt((result.by_direction.astype(np.float64) ** 2).sum(0)), rtol=1e-5
    )
    if not return_sequence:  # the last step reads forward h_T and reverse h_0 directly
        assert result.by_direction[0, -1] > result.by_direction[0, 0]
        assert result.by_direction[1, 0] > result.by_direction[1, -1]


def test_leaves_gradients_optimiser_and_mode_alone():
    torch.manual_seed(3)
    model = sequence_model("lstm", hidden=6)
    model.add_module("drop", nn.Dropout(0.5))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, target = torch.randn(4, 9, 1), torch.randn(4, 1)
    nn.MSELoss()(model(x), target).backward()
    optimiser.step()
    model.dense2.bias.grad = None  # a mix of set and unset grads
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    state = {k: {n: v.clone() for n, v in s.items()} for k, s in optimiser.state.items()}

    first = _flow(model)
    second = _flow(model)  # eval mode: dropout does not make it noisy
    np.testing.assert_array_equal(first.grad_norm, second.grad_norm)
    assert model.training and model.drop.training
    for name, p in model.named_parameters():
        assert torch.equal(p, weights[name])
        if grads[name] is None:
            assert p.grad is None
        else:
            assert torch.equal(p.grad, grads[name])
    for key, s in optimiser.state.items():
        for n, v in s.items():
            assert torch.equal(v, state[key][n])


def test_block_that_changes_its_output_is_refused():
    class Doubling(LSTMBlock):
        def forward(self, x):
            return 2 * super().forward(x)

    model = nn.Sequential(OrderedDict(rec1=Doubling(1, 4), dense2=nn.Linear(4, 1)))
    with pytest.raises(ProbeError, match="rec1"):
        _flow(model, steps=5)


def test_non_scalar_loss_is_refused():
    model = sequence_model("rnn_tanh", steps_out=3)
    with pytest.raises(ProbeError, match="scalar"):
        recurrent_gradient_flow(
            model, "rec1", torch.randn(5, 1), nn.MSELoss(reduction="none"), torch.zeros(1, 3)
        )


def test_an_exploding_rnn_is_followed_while_its_states_are_finite_and_named_when_not():
    """States of an exploding ReLU RNN grow huge and then overflow: huge ones are still traced;
    overflowed ones are a sentence saying so, not "returns something other than its output"
    (which it said before, turning the view off as if the block were unsupported)."""
    torch.manual_seed(0)
    model = sequence_model("rnn_relu", hidden=32)
    with torch.no_grad():
        nn.init.orthogonal_(model.rec1.weight_hh_l0, gain=1.5)  # every singular value 1.5
    x = 1e8 * torch.ones(1, STEPS, 1)
    with torch.no_grad():
        assert model.rec1(x)[0].abs().max() > 1e6  # states this large differ by > 1e-4 in float32
    result = recurrent_gradient_flow(model, "rec1", x, nn.MSELoss(), torch.ones(1, 1))
    assert result.grad_norm.shape == (STEPS,) and np.isfinite(result.grad_norm).all()
    with pytest.raises(ProbeError, match="overflowed"):
        recurrent_gradient_flow(model, "rec1", 1e32 * x, nn.MSELoss(), torch.ones(1, 1))
