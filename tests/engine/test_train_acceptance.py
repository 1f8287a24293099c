"""Acceptance on real data: the digits CNN example passes 95 % validation accuracy in 10 epochs."""

from __future__ import annotations

import pytest

from engine.events import Finished
from engine.examples import example_path
from engine.spec import ModelSpec
from engine.train import Trainer, TrainSettings


@pytest.mark.slow
def test_digits_cnn_reaches_95_percent_within_10_epochs():
    spec = ModelSpec.load(example_path("digits_cnn"))
    # The default settings (Adam, lr 0.003, batch 32), as the GUI and the CLI use them.
    settings = TrainSettings(epochs=10, device="cpu", torch_threads=1, probes=False, seed=0)
    result = Trainer(spec, spec.dataset, settings).run()
    assert isinstance(result, Finished), getattr(result, "message", result)
    assert result.final.val_accuracy >= 0.95
