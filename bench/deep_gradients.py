"""The vanishing gradient through depth, in figures: for the deep plain and deep residual
examples, the first-to-last-layer gradient-norm ratio over the first epoch and the validation
accuracy after 20 epochs, seeds 0-2 (README: Deep networks). tests/engine/test_deep_acceptance.py
checks the same figures with the same functions.

    python -m bench.deep_gradients
"""

from __future__ import annotations

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.probes.layers import layer_gradient_norms
from engine.training.events import Callback, Finished
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer

EXAMPLES = ("deep_plain", "deep_residual")


class FirstEpochGradients(Callback):
    """Each block's gradient norm (the gradient flow probe's figures) summed over the steps of
    the first epoch: the view's picture without its step-to-step noise."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
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


def measure(example: str, seed: int, epochs: int) -> tuple[float, float]:
    """(first/last layer gradient-norm ratio over epoch 1, final validation accuracy)."""
    spec = ModelSpec.load(example_path(example))
    # The default settings (Adam, lr 0.003, batch 32), as the window and the CLI use them.
    settings = TrainSettings(
        epochs=epochs, device="cpu", torch_threads=1, probes=False, seed=seed, record=False
    )
    trainer = Trainer(spec, spec.dataset, settings)
    grads = FirstEpochGradients(trainer)
    trainer.callbacks.append(grads)
    result = trainer.run()
    if not isinstance(result, Finished):
        raise RuntimeError(f"{example}, seed {seed}: {getattr(result, 'message', result)}")
    return grads.first_to_last(), result.final.val_accuracy


def main() -> None:
    print("| example | seed | first/last gradient norm, epoch 1 | val accuracy, 20 epochs |")
    print("|---|---|---|---|")
    for example in EXAMPLES:
        for seed in (0, 1, 2):
            ratio, accuracy = measure(example, seed, epochs=20)
            print(f"| {example} | {seed} | {ratio:.1e} | {accuracy:.1%} |", flush=True)


if __name__ == "__main__":
    main()
