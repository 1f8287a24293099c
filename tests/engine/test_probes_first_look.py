"""Every view shows data from the start of a run: every probe that applies runs once after the
first step (the real registry, default intervals, an injected clock), not one interval later."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.probes.registry import PROBES
from engine.probes.schedule import ProbeRunner

from ._probe_models import digits_cnn, sequence_model


class FrozenClock:
    """Time does not move: whatever runs, ran within the first second."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _cnn():
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    return digits_cnn(), nn.CrossEntropyLoss(), x, y, "classification", 10


def _lstm():
    x, y = torch.randn(16, 12, 1), torch.randn(16, 1)
    return sequence_model("lstm"), nn.MSELoss(), x, y, "regression", 1


@pytest.mark.parametrize("make", [_cnn, _lstm], ids=["cnn", "lstm"])
def test_every_applying_probe_reports_after_the_first_step(make):
    model, loss_fn, x, y, task, outputs = make()
    clock, emitted = FrozenClock(), []
    runner = ProbeRunner(
        model, task=task, num_classes=outputs, loss_fn=loss_fn, x_val=x, y_val=y,
        x_train=x, y_train=y, clock=clock,
        emit=lambda kind, data, error: emitted.append((kind, data, error)),
    )  # fmt: skip
    applying = set(PROBES.applying_to(runner.traits))
    assert {"filters", "feature_maps"} <= applying if task == "classification" else True
    assert {"gates", "time_gradients"} <= applying if task == "regression" else True

    # One training step as the loop does it: backward, the after-backward probes, the update.
    optimiser = torch.optim.Adam(model.parameters())
    optimiser.zero_grad(set_to_none=True)
    loss_fn(model(x), y).backward()
    runner.after_backward()
    assert emitted == []  # with default intervals nothing is due at backward time yet
    optimiser.step()
    assert runner.between_steps()

    reported = {kind: (data, error) for kind, data, error in emitted}
    assert set(reported) == applying
    assert all(error is None and data is not None for data, error in reported.values())
    # layer_gradients read the first step's gradients, so they are real numbers, not zeros.
    assert any(norm > 0 for norm in reported["layer_gradients"][0].values())

    # After that first look each kind waits its interval again: the next step runs none.
    emitted.clear()
    clock.now = 0.1
    runner.after_backward()
    assert not runner.between_steps() and emitted == []
