"""Trainer: events, reproducibility, pause/resume/stop, live settings, NaN guard, errors."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from engine.training.events import (
    EpochMetrics,
    Failed,
    Finished,
    Paused,
    ProbeSnapshot,
    RunStarted,
    SettingsChanged,
    StepMetrics,
)
from engine.training.optim import lr_factor
from engine.training.settings import SettingsError, TrainSettings
from engine.training.trainer import Trainer
from tests.engine._train_fixtures import (
    Recorder,
    cnn_spec,
    image_data,
    mlp_spec,
    rnn_spec,
    sequence_data,
    vector_data,
)

FAST = dict(device="cpu", torch_threads=1, probes=False, batch_size=16)


def train(spec, data, on_step=None, **settings):
    rec = Recorder(on_step)
    trainer = Trainer(spec, data, TrainSettings(**{**FAST, **settings}), [rec])
    rec.trainer = trainer
    result = trainer.run()
    return trainer, rec, result


def test_events_arrive_in_order_with_metrics():
    _, rec, result = train(mlp_spec(), vector_data(), epochs=2)
    assert isinstance(rec.events[0], RunStarted) and rec.events[-1] is result
    assert isinstance(result, Finished) and not result.stopped_early
    steps = rec.of(StepMetrics)
    assert [s.step for s in steps] == list(range(1, 11))  # 72 samples / 16 = 5 steps × 2 epochs
    assert all(0 <= s.accuracy <= 1 and s.samples_per_second > 0 for s in steps)
    assert steps[-1].eta_seconds == 0
    epochs = rec.of(EpochMetrics)
    assert [e.epoch for e in epochs] == [1, 2] and epochs[-1].val_accuracy is not None
    assert result.final == epochs[-1] and result.epochs_done == 2
    assert set(result.weights) == {"dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"}
    assert all(isinstance(w, np.ndarray) for w in result.weights.values())


def test_regression_reports_mae_in_dataset_units():
    _, rec, result = train(rnn_spec("gru"), sequence_data(), epochs=1)
    epoch = rec.of(EpochMetrics)[0]
    assert isinstance(result, Finished)
    assert epoch.val_accuracy is None and epoch.val_mae > 0


def test_same_seed_same_losses_and_other_seed_differs():
    losses = [
        [s.loss for s in train(cnn_spec(), image_data(), epochs=2, seed=seed)[1].of(StepMetrics)]
        for seed in (3, 3, 4)
    ]
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]


def test_pause_update_resume_keeps_optimizer_state():
    def control(trainer, event):
        if event.step == 3:
            trainer.request_pause()
            trainer.update_settings(lr=0.05, weight_decay=0.001)
            threading.Timer(0.05, trainer.request_resume).start()

    trainer, rec, result = train(mlp_spec(), vector_data(), control, epochs=2, lr=0.01)
    assert isinstance(result, Finished)
    paused = rec.of(Paused)
    assert [(p.paused, p.step) for p in paused] == [(True, 3), (False, 3)]
    change = rec.of(SettingsChanged)[0]
    assert change.step == 3 and change.changes == {"lr": 0.05, "weight_decay": 0.001}
    lrs = {s.step: s.lr for s in rec.of(StepMetrics)}
    assert lrs[3] == 0.01 and lrs[4] == 0.05
    # Adam's state went on counting across the pause: the optimiser was not rebuilt.
    state = next(iter(trainer.optimizer.state.values()))
    assert int(state["step"]) == 10
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.001


def test_stop_ends_with_finished_and_weights():
    def control(trainer, event):
        if event.step == 4:
            trainer.request_stop()

    _, rec, result = train(mlp_spec(), vector_data(), control, epochs=5)
    assert isinstance(result, Finished) and result.stopped_early and result.step == 4
    assert result.weights and len(rec.of(StepMetrics)) == 4


def test_until_stopped_trains_past_any_epoch_count_and_ends_at_stop():
    # vector_data's 72 training samples at batch 16: 5 steps an epoch; stop in epoch 7.
    def control(trainer, event):
        if event.step == 33:
            trainer.request_stop()

    _, rec, result = train(mlp_spec(), vector_data(), control, epochs=None)
    assert isinstance(result, Finished) and result.stopped_early and result.step == 33
    assert result.epochs_done == 6 and len(rec.of(EpochMetrics)) == 6
    started = rec.of(RunStarted)[0]
    assert started.total_epochs is None and started.steps_per_epoch == 5
    assert all(s.eta_seconds is None for s in rec.of(StepMetrics))  # no end, so no ETA


def test_until_stopped_refuses_the_cosine_schedule_which_needs_an_end():
    with pytest.raises(SettingsError, match="cosine"):
        TrainSettings(epochs=None, lr_schedule="cosine").checked()
    assert TrainSettings(epochs=None, lr_schedule="step").checked().epochs is None
    with pytest.raises(SettingsError, match="epochs"):
        TrainSettings(epochs=0).checked()


def test_nan_loss_fails_with_advice_and_keeps_good_weights():
    _, rec, result = train(
        rnn_spec("rnn"), sequence_data(scale=1e4), epochs=20, optimizer="sgd", lr=10.0, momentum=0.0
    )
    assert isinstance(result, Failed), result
    assert (
        ("became" in result.message or "exploded to" in result.message)  # loop.LOSS_LIMIT
        and "the learning rate 10 is probably too high; try 0.01" in result.message
    )
    assert f"(epoch {rec.of(StepMetrics)[-1].epoch}" in result.message or "epoch" in result.message
    assert all(np.isfinite(w).all() for w in result.weights.values())
    assert "are kept" in result.message


def test_model_that_does_not_fit_the_data_fails_before_training():
    _, rec, result = train(cnn_spec(), vector_data(), epochs=1)
    assert isinstance(result, Failed)
    assert "set the Input block to 2" in result.message
    assert not rec.of(StepMetrics) and result.details == ""


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"device": "cuda:7"}, "cuda:7"),
        ({"optimizer": "lion"}, "optimizer must be one of"),
        ({"batch_size": 0}, "batch_size"),
        ({"loss": "cross_entropy"}, "Cross-entropy needs class labels"),
    ],
)
def test_bad_settings_become_failed_events(settings, words):
    data = sequence_data() if "loss" in settings else vector_data()
    spec = rnn_spec() if "loss" in settings else mlp_spec()
    _, _, result = train(spec, data, epochs=1, **settings)
    assert isinstance(result, Failed) and words in result.message


def test_dataset_name_is_loaded_inside_run():
    spec = mlp_spec(classes=2)
    trainer = Trainer(
        spec, "moons", TrainSettings(epochs=1, **FAST), dataset_options={"n_samples": 64}
    )
    assert isinstance(trainer.run(), Finished)
    assert trainer.data.name == "moons"


def test_update_settings_rejects_bad_values_at_once():
    trainer = Trainer(mlp_spec(), vector_data(), TrainSettings(**FAST))
    with pytest.raises(SettingsError, match="lr must be a positive number"):
        trainer.update_settings(lr=-1)
    with pytest.raises(SettingsError, match="cannot change during a run"):
        trainer.update_settings(batch_size=3)


def test_lr_schedules():
    assert lr_factor("none", 5, 10, 3, 0.1) == 1.0
    assert lr_factor("step", 3, 10, 3, 0.1) == pytest.approx(0.1)
    assert lr_factor("cosine", 0, 10, 3, 0.1) == pytest.approx(1.0)
    assert lr_factor("cosine", 9, 10, 3, 0.1) < 0.05
    _, rec, _ = train(
        mlp_spec(),
        vector_data(),
        epochs=2,
        lr_schedule="step",
        lr_step_epochs=1,
        lr_gamma=0.5,
        lr=0.02,
    )
    assert {s.epoch: s.lr for s in rec.of(StepMetrics)} == {1: 0.02, 2: 0.01}


def test_settings_round_trip_through_a_dict():
    settings = TrainSettings(optimizer="sgd", probe_kinds=("filters",), grad_clip=1.0)
    assert TrainSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(SettingsError, match="Unknown training setting"):
        TrainSettings.from_dict({"learning_rate": 1})


def test_probe_snapshots_for_a_cnn():
    zero = dict.fromkeys(
        (
            "filters",
            "feature_maps",
            "weight_histograms",
            "layer_gradients",
            "activation_histograms",
        ),
        0.0,
    )
    _, rec, result = train(
        cnn_spec(), image_data(), epochs=2, probes=True, probe_intervals=zero, probe_budget=1.0
    )
    assert isinstance(result, Finished)
    kinds = {p.kind for p in rec.of(ProbeSnapshot)}
    assert kinds >= {
        "probe_input",
        "filters",
        "feature_maps",
        "weight_histograms",
        "layer_gradients",
        "activation_histograms",
        "classification_report",
    }
    assert not [p.error for p in rec.of(ProbeSnapshot) if p.error]
    grads = next(p.data for p in rec.of(ProbeSnapshot) if p.kind == "layer_gradients")
    assert set(grads) == {"conv1", "dense1"} and all(
        math.isfinite(v) and v > 0 for v in grads.values()
    )


@pytest.mark.parametrize(
    ("spec", "data", "wanted"),
    [
        (cnn_spec, image_data, {"filters", "feature_maps"}),
        (lambda: rnn_spec("lstm"), sequence_data, {"gates", "time_gradients"}),
    ],
)
def test_a_run_shorter_than_every_probe_interval_still_ends_with_every_probe(spec, data, wanted):
    never = ("filters", "feature_maps", "gates", "time_gradients", "layer_gradients")
    _, rec, result = train(
        spec(), data(), epochs=1, probes=True, probe_intervals=dict.fromkeys(never, 3600.0)
    )
    assert isinstance(result, Finished)
    kinds = {p.kind for p in rec.of(ProbeSnapshot) if p.error is None}
    assert wanted | {"layer_gradients", "weight_histograms"} <= kinds


def test_probe_snapshots_for_an_lstm_and_a_bad_sample_index():
    zero = {"gates": 0.0, "time_gradients": 0.0}
    _, rec, _ = train(
        rnn_spec("lstm"),
        sequence_data(),
        epochs=1,
        probes=True,
        probe_intervals=zero,
        probe_budget=1.0,
    )
    data = {p.kind: p.data for p in rec.of(ProbeSnapshot)}
    assert data["gates"][0].block_id == "lstm1" and data["time_gradients"][0].grad_norm.shape == (
        6,
    )
    assert "forecast_report" in data
    _, _, result = train(
        rnn_spec("lstm"), sequence_data(), epochs=1, probes=True, probe_sample_index=99
    )
    assert isinstance(result, Failed) and "probe sample index 99" in result.message


def test_conv_nets_train_channels_last_on_the_cpu_and_hand_out_c_ordered_weights():
    import torch

    trainer, _, result = train(cnn_spec(), image_data(n=48), epochs=1)
    kernel = trainer.model.conv1.weight
    # (9, 9, 3, 1) in PyTorch's default layout: with one input channel only that stride says
    # which layout oneDNN is asked for.
    assert kernel.is_contiguous(memory_format=torch.channels_last) and kernel.stride()[1] == 1
    assert result.weights["conv1.weight"].flags.c_contiguous
    np.testing.assert_array_equal(result.weights["conv1.weight"], kernel.detach().numpy())


@pytest.mark.parametrize(
    "name, kernel",
    [("adam", "fused"), ("adamw", "fused"), ("sgd", "fused"), ("rmsprop", "foreach")],
)
def test_cpu_optimisers_run_a_fast_kernel_that_steps_as_torchs_default_does(
    monkeypatch, name, kernel
):
    import torch

    from engine.training import optim

    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))

    def make(net):
        return optim.make_optimizer(
            name, net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-3
        )

    fast_net, default_net = model(), model()
    fast = make(fast_net)
    assert fast.param_groups[0][kernel] is True
    monkeypatch.setattr(optim, "kernel_options", lambda *_: {})
    default = make(default_net)
    assert not default.param_groups[0]["foreach"] and not default.param_groups[0].get("fused")
    x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
    for _ in range(5):
        for net, opt in ((fast_net, fast), (default_net, default)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    for a, b in zip(fast_net.parameters(), default_net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_run_steps_exactly_as_a_plain_torch_loop_does(optimizer):
    """The loop's own zero_grad, its step past torch's profiler wrapper and its numpy batch
    accuracy give the same weights, losses and accuracies as the textbook loop."""
    import torch

    from engine.nn.build import build_model
    from engine.training.optim import make_optimizer

    spec, data = mlp_spec(classes=3), vector_data(n=100, classes=3)
    settings = dict(epochs=3, shuffle=False, optimizer=optimizer, momentum=0.9, lr=0.05)
    _, rec, result = train(spec, data, **settings)
    s = TrainSettings(**{**FAST, **settings})
    net = build_model(spec, seed=s.seed)
    opt = make_optimizer(optimizer, net.parameters(), lr=s.lr, momentum=s.momentum,
                         nesterov=s.nesterov, weight_decay=s.weight_decay)  # fmt: skip
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    losses, accuracies = [], []
    for _ in range(3):
        for xb, yb in zip(x.split(s.batch_size), y.split(s.batch_size), strict=True):
            out = net(xb)
            loss = torch.nn.functional.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            accuracies.append((out.argmax(1) == yb).float().mean().item())
    steps = rec.of(StepMetrics)
    np.testing.assert_allclose([e.loss for e in steps], losses, rtol=1e-6)
    np.testing.assert_allclose([e.accuracy for e in steps], accuracies)
    for name, value in net.state_dict().items():
        np.testing.assert_allclose(result.weights[name], value.numpy(), rtol=1e-6, atol=1e-7)


def test_the_bare_step_still_calls_a_step_hook_registered_at_any_time():
    import torch

    from engine.training.optim import bare_step, grad_clearer

    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    step, clear = bare_step(opt), grad_clearer(opt)
    net(torch.ones(1, 2)).sum().backward()
    before = net.weight.detach().clone()
    step()
    assert not torch.equal(net.weight, before)  # it steps
    calls = []
    handle = opt.register_step_post_hook(lambda *_: calls.append("post"))
    step()
    handle.remove()
    step()
    assert calls == ["post"]
    clear()
    assert all(p.grad is None for p in net.parameters())


def test_batch_hits_in_numpy_match_torchs_argmax_also_for_ties_and_other_dtypes():
    import torch

    from engine.training.loop import _hits_on_cpu

    out = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [3.0, 0.0, 1.0], [0.0, 0.0, 0.0]],
                       requires_grad=True)  # fmt: skip
    y = torch.tensor([0, 2, 0, 0])
    for scores in (out, out.double(), out.bfloat16()):
        assert _hits_on_cpu(scores, y) == int((scores.argmax(1) == y).sum()) == 3


def test_a_callback_sees_each_steps_gradients_after_backward():
    class GradientWatcher(Recorder):
        def __init__(self):
            super().__init__()
            self.norms = []

        def on_after_backward(self):
            grads = [p.grad for p in self.trainer.model.parameters()]
            self.norms.append(sum(float(g.norm()) for g in grads if g is not None))

    watcher = GradientWatcher()
    trainer = Trainer(mlp_spec(), vector_data(), TrainSettings(**{**FAST, "epochs": 2}), [watcher])
    watcher.trainer = trainer
    result = trainer.run()
    assert len(watcher.norms) == result.step == 10 and all(n > 0 for n in watcher.norms)


def test_report_probe_reaches_the_callbacks_at_the_current_step():
    def report(trainer, event):
        if event.step == 2:
            trainer.report_probe("gates", None, "not for this model")

    _, rec, _ = train(mlp_spec(), vector_data(), report, epochs=1)
    snapshot = rec.of(ProbeSnapshot)[0]
    assert (snapshot.step, snapshot.kind, snapshot.error) == (2, "gates", "not for this model")


def test_a_run_that_would_not_fit_in_memory_is_refused_before_the_model_is_built(monkeypatch):
    """The run's peak (weights, gradients, optimiser moments, a batch of every block's output)
    is counted before anything is built; more than the machine can afford is a sentence."""
    from engine.model.inference import infer, training_memory

    spec = mlp_spec()
    needed = training_memory(infer(spec), 16, 512)
    # weights, gradients and two moments, and every block's 16-wide output kept for a batch
    assert needed >= 4 * 4 * infer(spec).total_params + 4 * 512 * 4
    monkeypatch.setattr("engine.data.resources.affordable_bytes", lambda: needed - 1)
    trainer, rec, result = train(spec, vector_data(), epochs=1)
    assert isinstance(result, Failed) and trainer.setup is None
    assert "with batch size 16" in result.message and "Lower the batch size" in result.message
    assert not rec.of(StepMetrics)
    monkeypatch.setattr("engine.data.resources.affordable_bytes", lambda: needed)
    assert isinstance(train(spec, vector_data(), epochs=1)[2], Finished)
