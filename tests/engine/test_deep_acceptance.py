"""Acceptance: through 24 Dense+Tanh layers the gradient vanishes and the plain network cannot
learn the spirals; the same layers in residual blocks keep it and learn them (README: Deep
networks). The two example files differ only in the residual blocks."""

from __future__ import annotations

import pytest

from bench.deep_gradients import measure
from engine.model.examples import example_path
from engine.model.spec import ModelSpec


def test_the_examples_differ_only_in_the_residual_blocks():
    plain = ModelSpec.load(example_path("deep_plain"))
    residual = ModelSpec.load(example_path("deep_residual"))
    flat = [b for top in residual.blocks for b in top.walk() if not b.is_container]
    assert [(b.id, b.type, b.params) for b in flat] == [
        (b.id, b.type, b.params) for b in plain.blocks
    ]
    assert sum(b.type == "tanh" for b in plain.blocks) == 24
    assert (
        (plain.dataset, plain.input)
        == (residual.dataset, residual.input)
        == (
            "spirals",
            plain.input,
        )
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_vanishes_through_the_plain_stack_and_not_the_residual_one(seed):
    plain, _ = measure("deep_plain", seed, epochs=1)
    residual, _ = measure("deep_residual", seed, epochs=1)
    assert plain < 1e-3, f"seed {seed}: first/last gradient norm {plain:.2e} in the plain network"
    assert residual > 1e-1, f"seed {seed}: first/last {residual:.2e} in the residual network"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_residual_network_learns_the_spirals_and_the_plain_one_does_not(seed):
    _, plain = measure("deep_plain", seed, epochs=20)
    _, residual = measure("deep_residual", seed, epochs=20)
    assert residual >= 0.9, f"seed {seed}: the residual network reached only {residual:.1%}"
    assert plain <= 0.7, f"seed {seed}: the plain network reached {plain:.1%}; chance is 50 %"
