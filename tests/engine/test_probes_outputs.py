"""The cards' thumbnails: one forward pass of the probe sample captures every block's output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.model.examples import example_path
from engine.model.inference import infer
from engine.model.spec import ModelSpec
from engine.nn.build import build_model
from engine.probes import BlockOutput, block_outputs
from engine.probes.registry import PROBES
from engine.probes.schedule import ProbeRunner


@pytest.mark.parametrize("example", ["digits_cnn", "sine_lstm", "moons_mlp", "memory_rnn"])
def test_every_block_output_has_the_shape_the_spec_infers(example):
    spec = ModelSpec.load(example_path(example))
    model = build_model(spec, seed=0)
    model.train()
    x = torch.randn(1, *spec.input.shape)
    outputs = block_outputs(model, x)
    assert [o.block_id for o in outputs] == [b.id for b in spec.blocks]
    for out, info in zip(outputs, infer(spec).blocks, strict=True):
        assert isinstance(out, BlockOutput)
        assert out.values.shape == tuple(info.output_shape), out.block_id
        assert out.values.dtype == np.float32 and not out.values.flags.writeable
        assert out.level == pytest.approx(float(np.abs(out.values).max()) or 1.0)
    assert model.training  # the probe's eval mode is undone
    # The last block's output is the model's own output for the sample.
    with torch.no_grad():
        model.eval()
        expected = model(x)[0].numpy()
    np.testing.assert_allclose(outputs[-1].values, expected, rtol=1e-5, atol=1e-6)


def test_outputs_are_copied_before_an_in_place_activation_overwrites_them():
    from collections import OrderedDict

    from torch import nn

    model = nn.Sequential(
        OrderedDict(dense1=nn.Linear(3, 4), relu1=nn.ReLU(inplace=True), dense2=nn.Linear(4, 2))
    )
    with torch.no_grad():
        model.dense1.weight.fill_(-1.0)
        model.dense1.bias.zero_()
    out = {o.block_id: o for o in block_outputs(model, torch.ones(1, 3))}
    assert (out["dense1"].values == -3.0).all()  # not the ReLU's zeros written over it
    assert (out["relu1"].values == 0.0).all() and out["relu1"].level == 1.0


def test_the_runner_reports_block_outputs_for_every_model_and_with_a_new_sample():
    spec = ModelSpec.load(example_path("sine_lstm"))
    model = build_model(spec, seed=0)
    x, y = torch.randn(8, *spec.input.shape), torch.randn(8, 1)
    assert "block_outputs" in PROBES.applying_to(
        ProbeRunner(model, task="regression", num_classes=1, loss_fn=torch.nn.MSELoss(),
                    x_val=x, y_val=y, x_train=x, y_train=y).traits
    )  # fmt: skip
    emitted = []
    runner = ProbeRunner(
        model, task="regression", num_classes=1, loss_fn=torch.nn.MSELoss(), x_val=x, y_val=y,
        x_train=x, y_train=y, kinds=("block_outputs",),
        emit=lambda kind, data, error: emitted.append((kind, data, error)),
    )  # fmt: skip
    runner.set_sample(3)  # a sample-looking probe runs again at once for the new sample
    kinds = [kind for kind, _data, _error in emitted]
    assert kinds == ["probe_input", "block_outputs"]
    data = emitted[-1][1]
    expected = block_outputs(model, x[3:4])
    for got, want in zip(data, expected, strict=True):
        np.testing.assert_array_equal(got.values, want.values)
