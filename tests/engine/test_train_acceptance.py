"""Acceptance on real data: the digits CNN passes 95 % in 10 epochs; the LSTM beats the RNN on long memory."""

from __future__ import annotations

import pytest

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.training.events import Finished
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer


@pytest.mark.slow
def test_digits_cnn_reaches_95_percent_within_10_epochs():
    spec = ModelSpec.load(example_path("digits_cnn"))
    # The default settings (Adam, lr 0.003, batch 32), as the GUI and the CLI use them.
    settings = TrainSettings(epochs=10, device="cpu", torch_threads=1, probes=False, seed=0)
    result = Trainer(spec, spec.dataset, settings).run()
    assert isinstance(result, Finished), getattr(result, "message", result)
    assert result.final.val_accuracy >= 0.95


def _memory_run(example: str) -> float:
    spec = ModelSpec.load(example_path(example))
    settings = TrainSettings(
        epochs=20, lr=1e-3, batch_size=64, device="cpu", torch_threads=1, probes=False, seed=0
    )
    result = Trainer(spec, spec.dataset, settings, dataset_options=spec.dataset_options).run()
    assert isinstance(result, Finished), getattr(result, "message", result)
    return result.final.val_accuracy


@pytest.mark.slow
def test_lstm_remembers_the_first_of_160_steps_where_the_rnn_stays_at_chance():
    # README "RNN vs LSTM": the same 160-step task, settings and seed for both examples.
    lstm, rnn = _memory_run("memory_lstm"), _memory_run("memory_rnn")
    assert lstm >= 0.90
    assert rnn <= 0.35  # 4 symbols: chance is 0.25
