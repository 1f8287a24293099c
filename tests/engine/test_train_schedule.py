"""Probe scheduling is bounded by time and by a share of the wall time and reads the probe
registry for everything about a kind; device choice."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.probes.registry import DEFAULT_INTERVALS, ModelTraits, ProbeKind, ProbeRegistry
from engine.probes.schedule import ProbeRunner, ProbeScheduler
from engine.training.devices import DeviceError, available_devices, resolve_device


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_probe_is_due_once_per_interval():
    clock = FakeClock()
    sched = ProbeScheduler(["filters"], clock=clock)
    assert not sched.due("filters")  # the first run waits one interval
    clock.now = DEFAULT_INTERVALS["filters"]
    assert sched.due("filters")
    sched.record("filters", 0.0)
    clock.now += DEFAULT_INTERVALS["filters"] / 2
    assert not sched.due("filters")
    assert not sched.due("gates")  # not active for this model


def test_a_slow_probe_is_stretched_to_its_share_of_the_budget():
    clock = FakeClock()
    sched = ProbeScheduler(["gates", "filters"], budget=0.05, clock=clock)
    sched.record("gates", 0.2)  # 0.2 s a run, share 2.5 % -> at most every 8 s
    assert sched.interval("gates") == pytest.approx(8.0)
    assert sched.interval("filters") == DEFAULT_INTERVALS["filters"]
    # Simulate a minute: total probe time stays within the budget.
    spent = 0.0
    while clock.now < 60:
        clock.now += 0.01
        for kind, cost in (("gates", 0.2), ("filters", 0.001)):
            if sched.due(kind):
                sched.record(kind, cost)
                spent += cost
    assert spent / 60 <= 0.05


def test_run_measures_and_disable_removes_and_re_shares_the_budget():
    clock = FakeClock()
    sched = ProbeScheduler(["filters", "gates"], budget=0.1, clock=clock)

    def probe():
        clock.now += 0.5
        return "data"

    assert sched.run("filters", probe) == "data"
    assert sched.costs() == {"filters": 0.5}
    sched.record("gates", 0.2)
    assert sched.interval("gates") == pytest.approx(4.0)  # 0.2 s at a 5 % share
    sched.disable("filters")
    assert sched.kinds == ("gates",) and not sched.due("filters", 1e9)
    assert sched.interval("gates") == pytest.approx(2.0)  # the whole 10 % now


def test_unknown_probe_interval_is_refused():
    with pytest.raises(ValueError, match="unknown probe kind"):
        ProbeScheduler(["filters"], intervals={"filterz": 1.0})


def fake_registry():
    """Two made-up kinds: one every step that applies to any model, one for conv nets only."""
    registry = ProbeRegistry()
    registry.register(ProbeKind(
        "mean_weight", 0.0, "step", True, lambda traits: True, ("Made up",),
        lambda ctx: len(list(ctx.model.parameters())) + float(ctx.x_one.sum()),
    ))  # fmt: skip
    registry.register(ProbeKind(
        "conv_only", 0.0, "step", False, lambda traits: traits.has_conv, ("Made up",),
        lambda ctx: None,
    ))  # fmt: skip
    registry.register(ProbeKind(
        "broken", 0.0, "epoch", False, lambda traits: True, ("Made up",),
        lambda ctx: 1 / 0,
    ))  # fmt: skip
    return registry


def test_the_runner_takes_kinds_timing_and_computation_from_the_registry():
    clock = FakeClock()
    emitted = []
    model = nn.Sequential(nn.Linear(2, 3))
    x, y = torch.ones(4, 2), torch.zeros(4, dtype=torch.long)
    runner = ProbeRunner(
        model, task="classification", num_classes=3, loss_fn=None,
        x_val=x, y_val=y, x_train=x, y_train=y, budget=1.0, clock=clock,
        registry=fake_registry(), emit=lambda kind, data, error: emitted.append((kind, error)),
    )  # fmt: skip
    assert runner.traits == ModelTraits(False, (), "classification", (2,))
    assert runner.scheduler.kinds == ("mean_weight", "broken")  # conv_only does not apply
    runner.after_backward()  # no kind runs at backward time
    assert emitted == []
    # After the first step every kind runs once, the epoch kind too; a failing probe is
    # reported once and switched off.
    assert runner.between_steps() and [k for k, _ in emitted] == ["mean_weight", "broken"]
    assert "broken view is off" in emitted[-1][1]
    assert runner.scheduler.kinds == ("mean_weight",)
    clock.now = 1.0  # then each kind at its own timing
    assert runner.between_steps() and emitted[-1] == ("mean_weight", None)
    runner.after_epoch(final=False)
    assert len(emitted) == 3  # the switched-off kind does not run again
    runner.set_sample(2)  # the kinds that look at the sample run again at once
    assert [k for k, _ in emitted[-2:]] == ["probe_input", "mean_weight"]


def test_devices_resolve_on_this_machine():
    assert resolve_device("cpu") == torch.device("cpu")
    assert "cpu" in available_devices()
    expected = "cuda" if torch.cuda.is_available() else resolve_device("auto").type
    assert resolve_device("auto").type == expected
    with pytest.raises(DeviceError, match="Unknown device 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(DeviceError, match="cuda:x"):
        resolve_device("cuda:x")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(DeviceError, match=f"cuda:{count}"):
        resolve_device(f"cuda:{count}")
