"""Acceptance: the exploding-gradient example explodes without clipping and recovers with it.

resources/examples/exploding_rnn.json is a ReLU RNN (128 units) whose recurrent matrix starts
as 1.5 × an orthogonal matrix, on 100-step sine windows, trained with SGD at its default
learning rate 0.01 (README, "The exploding gradient, and clipping"). Measured on our 2-core
machine for seeds 0-2, one torch thread:

- at the initial weights ‖∂L/∂h_0‖ / ‖∂L/∂h_99‖ is 2.5e4-1e5 and the first loss 3e6-3e7;
- without clipping the first step's update overflows the weights: the run fails at step 2
  ("The loss became NaN"), with the advice to clip;
- with clipping at 1 switched on live as the run starts, the loss falls from ~1e7 to a
  validation MSE of 0.006-0.012 in 5 epochs (3.5-6 s), and ‖∂L/∂h_t‖ no longer grows back
  through time (the ratio ends at 0.002-0.04).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.probes.time_gradient import recurrent_gradient_flow
from engine.training.events import (
    Callback,
    Failed,
    Finished,
    ProbeSnapshot,
    RunStarted,
    SettingsChanged,
    StepMetrics,
)
from engine.training.settings import TrainSettings
from engine.training.setup import prepare_run
from engine.training.trainer import Trainer

EXAMPLE = "exploding_rnn"
EXPLODED = 1e3  # early/late gradient ratio that counts as exploded (measured: >= 2.5e4)


def _settings(seed: int, **more) -> TrainSettings:
    return TrainSettings(
        optimizer="sgd", lr=0.01, epochs=5, seed=seed, device="cpu", torch_threads=1,
        record=False, **more,
    )  # fmt: skip


def _ratio(grad_norm: np.ndarray) -> float:
    """How much larger the gradient is at the first step than at the last."""
    return float(grad_norm[0] / grad_norm[-1])


def _spec() -> ModelSpec:
    return ModelSpec.load(example_path(EXAMPLE))


class _Recorder(Callback):
    """Keeps the events; optionally switches clipping on live once the run has started."""

    def __init__(self, clip_at_start: float | None = None) -> None:
        self.events: list = []
        self.trainer: Trainer | None = None
        self.clip_at_start = clip_at_start

    def on_event(self, event) -> None:
        self.events.append(event)
        if isinstance(event, RunStarted) and self.clip_at_start is not None:
            self.trainer.update_settings(grad_clip=self.clip_at_start)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def _train(seed: int, recorder: _Recorder, **more):
    spec = _spec()
    trainer = Trainer(spec, spec.dataset, _settings(seed, **more), [recorder])
    recorder.trainer = trainer
    return trainer, trainer.run()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_clipping_the_gradient_explodes_back_through_time_and_the_run_fails(seed):
    spec = _spec()
    setup = prepare_run(spec, spec.dataset, _settings(seed, probes=False), {})
    start = recurrent_gradient_flow(
        setup.model, "rnn1", setup.x_val[:1], setup.loss_fn, setup.y_val[:1]
    )
    # The gradient through time at the weights the run starts from: rising to the left.
    assert _ratio(start.grad_norm) >= EXPLODED
    assert np.all(np.diff(np.log(start.grad_norm[:50])) < 0.5)  # growing smoothly, not noise

    recorder = _Recorder()
    _, result = _train(seed, recorder, probes=False)
    assert isinstance(result, Failed), "the unclipped run should diverge"
    assert result.step <= 3
    assert (
        "became NaN" in result.message
        or "exploded" in result.message
        or ("infinite" in result.message)
    )
    assert "Gradient clip in the Training panel, --grad-clip 1" in result.message
    assert recorder.of(StepMetrics)[0].loss > 1e4  # the loss spikes at once


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clipping_switched_on_live_tames_the_explosion_and_the_run_learns(seed):
    recorder = _Recorder(clip_at_start=1.0)
    trainer, result = _train(seed, recorder, probe_kinds=("time_gradients",))
    assert isinstance(result, Finished), getattr(result, "message", result)

    changes = recorder.of(SettingsChanged)
    assert [dict(c.changes) for c in changes] == [{"grad_clip": 1.0}]
    steps = recorder.of(StepMetrics)
    assert changes[0].step < steps[0].step  # applied from the first step on
    assert steps[0].loss > 1e4  # the explosion is there: the first loss is huge
    # The first look through time, after the first (clipped) step: still exploding.
    snapshots = [s for s in recorder.of(ProbeSnapshot) if s.kind == "time_gradients"]
    assert snapshots and snapshots[0].error is None
    assert _ratio(snapshots[0].data[0].grad_norm) >= EXPLODED

    # Recovered: a sine forecast far better than predicting 0 (an MSE of ~0.4) and the
    # gradient no longer growing back through time.
    assert result.final.val_loss < 0.05
    assert np.median([s.loss for s in steps[-20:]]) < 0.05
    setup = trainer.setup
    end = recurrent_gradient_flow(
        trainer.model, "rnn1", setup.x_val[:1], setup.loss_fn, setup.y_val[:1]
    )
    assert _ratio(end.grad_norm) < 10


def test_recurrent_gain_starts_the_recurrent_matrix_at_that_gain_and_zero_keeps_torchs_init():
    from engine.nn.build import build_model

    gains = {}
    for gain in (0.0, 1.5):
        spec = ModelSpec.from_dict(
            {
                **_spec().to_dict(),
                "blocks": [
                    {
                        "id": "rnn1",
                        "type": "rnn",
                        "params": {
                            "hidden_size": 16,
                            "nonlinearity": "relu",
                            "recurrent_gain": gain,
                        },
                    },
                    {"id": "dense1", "type": "dense", "params": {"units": 1}},
                ],
            }  # fmt: skip
        )
        u = build_model(spec, seed=0).state_dict()["rnn1.weight_hh_l0"].numpy()
        gains[gain] = np.linalg.svd(u, compute_uv=False)
    np.testing.assert_allclose(gains[1.5], 1.5, rtol=1e-5)  # every singular value
    assert gains[0.0].max() < 1.5  # torch's uniform(±1/√H) init, as before the parameter


def test_a_model_file_without_recurrent_gain_keeps_its_rnn_as_it_was():
    spec = ModelSpec.load(example_path("memory_rnn"))  # written before the parameter existed
    assert spec.blocks[0].params["recurrent_gain"] == 0.0
