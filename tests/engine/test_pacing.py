"""The one pacer: interval, budget stretch, smoothing, the cap and the injected clock."""

from __future__ import annotations

import pytest

from engine.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 64.0

    def __call__(self) -> float:
        return self.now


def test_cheap_runs_follow_the_interval_and_the_first_waits_one():
    clock = Clock()
    pacer = Pacer(0.5, 0.05, clock=clock)
    assert not pacer.due()
    clock.now += 0.5
    assert pacer.due()
    pacer.run(lambda: None)  # costs nothing on this clock
    assert pacer.wait() == 0.5 and not pacer.due()


def test_dear_runs_stretch_the_wait_to_stay_in_budget_and_the_cap_holds():
    clock = Clock()
    pacer = Pacer(0.125, 0.125, max_wait=3.0, smoothing=0.5, clock=clock, first_run_waits=False)
    assert pacer.due()

    def job():
        clock.now += 0.25  # a 250 ms run at a 12.5 % budget: wait 2 s

    pacer.run(job)
    assert pacer.wait() == pytest.approx(2.0)
    clock.now += 1.75
    assert not pacer.due()
    clock.now += 0.25
    assert pacer.due()
    pacer.record(1.0)  # smoothed: (0.25 + 1.0) / 2 = 0.625 s -> 5 s, capped at 3 s
    assert pacer.cost == pytest.approx(0.625) and pacer.wait() == 3.0
    assert pacer.total == pytest.approx(1.25) and pacer.runs == 2


def test_budget_must_be_a_share():
    with pytest.raises(ValueError, match="share"):
        Pacer(1.0, 0.0)
