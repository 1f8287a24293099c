"""Probe scheduling is bounded by time and by a share of the wall time; device choice."""

from __future__ import annotations

import pytest
import torch

from engine.probes.schedule import DEFAULT_INTERVALS, ProbeScheduler
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


def test_run_measures_and_disable_removes():
    clock = FakeClock()
    sched = ProbeScheduler(["filters"], clock=clock)

    def probe():
        clock.now += 0.5
        return "data"

    assert sched.run("filters", probe) == "data"
    assert sched.costs() == {"filters": 0.5}
    sched.disable("filters")
    assert sched.kinds == ()


def test_unknown_probe_interval_is_refused():
    with pytest.raises(ValueError, match="unknown probe kind"):
        ProbeScheduler(["filters"], intervals={"filterz": 1.0})


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
