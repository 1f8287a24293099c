"""Acceptance: through 24 Dense+Tanh layers the gradient vanishes and the plain network cannot
learn the spirals; the same layers in residual blocks keep it and learn them (README: Deep
networks). The two example files differ only in the residual blocks."""

from __future__ import annotations

import pytest

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.probes.layers import layer_gradient_norms
from engine.training.events import Callback, Finished
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer


class FirstEpochGradients(Callback):
    """Each block's gradient norm summed over the steps of the first epoch (what the gradient
    flow view shows step by step, without its step-to-step noise)."""

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self.sums: dict[str, float] = {}
        self.first_epoch = True

    def on_after_backward(self) -> None:
        if self.first_epoch:
            for name, norm in layer_gradient_norms(self.trainer.model).items():
                self.sums[name] = self.sums.get(name, 0.0) + norm

    def on_epoch_end(self, event) -> None:
        self.first_epoch = False

    def first_to_last(self) -> float:
        norms = list(self.sums.values())
        return norms[0] / norms[-1]


def _train(example: str, seed: int, epochs: int) -> tuple[float, float]:
    spec = ModelSpec.load(example_path(example))
    grads = FirstEpochGradients()
    # The default settings (Adam, lr 0.003, batch 32), as the window and the CLI use them.
    settings = TrainSettings(
        epochs=epochs, device="cpu", torch_threads=1, probes=False, seed=seed, record=False
    )
    trainer = Trainer(spec, spec.dataset, settings, [grads])
    grads.trainer = trainer
    result = trainer.run()
    assert isinstance(result, Finished), getattr(result, "message", result)
    return grads.first_to_last(), result.final.val_accuracy


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
    plain, _ = _train("deep_plain", seed, epochs=1)
    residual, _ = _train("deep_residual", seed, epochs=1)
    assert plain < 1e-3, f"seed {seed}: first/last gradient norm {plain:.2e} in the plain network"
    assert residual > 1e-1, f"seed {seed}: first/last {residual:.2e} in the residual network"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_residual_network_learns_the_spirals_and_the_plain_one_does_not(seed):
    _, plain = _train("deep_plain", seed, epochs=20)
    _, residual = _train("deep_residual", seed, epochs=20)
    assert residual >= 0.9, f"seed {seed}: the residual network reached only {residual:.1%}"
    assert plain <= 0.7, f"seed {seed}: the plain network reached {plain:.1%}; chance is 50 %"
