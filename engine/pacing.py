"""One pacer for recurring work that must stay inside a share of the time.

Probes in the training process and the window's repaints are the same problem: a job whose
cost varies (50 µs on one model, 500 ms on another) should run about every ``interval``
seconds, but never take more than ``budget`` of the wall time. A Pacer measures each run,
smooths the cost, and after a run that cost c waits max(interval, c / budget) seconds, capped
at ``max_wait`` (so a view on screen never freezes). Pure Python, no torch, no Qt; the clock is
injected so tests can play any timing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Pacer:
    """When a recurring job may run next; not thread-safe (one user per pacer)."""

    def __init__(
        self,
        interval: float,
        budget: float,
        *,
        max_wait: float = math.inf,
        smoothing: float = 0.3,
        clock: Callable[[], float] = time.perf_counter,
        first_run_waits: bool = True,
    ) -> None:
        if not 0 < budget <= 1:
            raise ValueError(f"budget is a share of the time, in (0, 1], not {budget!r}")
        self.interval = float(interval)
        self.budget = float(budget)
        self.max_wait = float(max_wait)
        self.smoothing = float(smoothing)  # weight of the newest cost in the running estimate
        self.clock = clock
        self.cost = 0.0  # smoothed seconds per run
        self.runs = 0
        self.total = 0.0  # seconds spent in all runs
        # The first run waits one interval (the first steps of a run are not slowed by every
        # probe at once), or may happen at once (a view's first paint).
        self.last_run: float = clock() if first_run_waits else -math.inf

    def wait(self) -> float:
        """Seconds between two runs now: the interval, stretched while runs are dear."""
        return min(max(self.interval, self.cost / self.budget), self.max_wait)

    def next_run(self) -> float:
        return self.last_run + self.wait()

    def due(self, now: float | None = None) -> bool:
        return (self.clock() if now is None else now) >= self.next_run()

    def record(self, cost: float, at: float | None = None) -> None:
        """Note a run that cost ``cost`` seconds; the next wait counts from ``at`` (default:
        now, the end of a run just measured)."""
        cost = max(0.0, float(cost))
        self.cost = cost if self.runs == 0 else (
            self.smoothing * cost + (1 - self.smoothing) * self.cost
        )  # fmt: skip
        self.runs += 1
        self.total += cost
        self.last_run = self.clock() if at is None else at

    def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` now and record what it cost; returns what it returned."""
        start = self.clock()
        try:
            return job()
        finally:
            end = self.clock()
            self.record(end - start, end)
