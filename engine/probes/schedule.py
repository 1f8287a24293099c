"""When to run each probe: at a rate bounded by time, inside a share of the training time.

Each probe kind has a default interval in seconds. The scheduler measures what each run of a
probe costs and stretches its interval so that, together, the probes take at most ``budget``
(5 %) of the wall time: kind k is given budget / (number of kinds) and runs no more often than
every cost_k / share seconds. Time, not steps, because a step costs 50 µs on one model and
500 ms on another, while a person looks at the views at the same rate either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from torch import nn

from engine import probes
from engine.probes.common import frozen_array
from engine.probes.registry import DEFAULT_BUDGET, DEFAULT_INTERVALS, PROBE_KINDS
from engine.probes.snapshots import ProbeInput

_COST_SMOOTHING = 0.3  # weight of the newest cost in the running estimate
_CHECK_EVERY = 0.05  # seconds between looks at the step-time probes (intervals are >= this)


@dataclass
class ProbeTiming:
    """What the scheduler knows about one kind: its base interval, measured cost, last run."""

    interval: float
    cost: float = 0.0  # smoothed seconds per run
    runs: int = 0
    last_run: float | None = None

    def effective_interval(self, share: float) -> float:
        return max(self.interval, self.cost / share) if share > 0 else float("inf")


class ProbeScheduler:
    """Decides which probe kinds are due and measures them; not thread-safe (one per run)."""

    def __init__(
        self,
        kinds: Iterable[str],
        *,
        intervals: Mapping[str, float] | None = None,
        budget: float = DEFAULT_BUDGET,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        overrides = dict(intervals or {})
        unknown = sorted(set(overrides) - set(PROBE_KINDS))
        if unknown:
            raise ValueError(f"unknown probe kind {unknown[0]!r}; kinds: {', '.join(PROBE_KINDS)}")
        self.clock = clock
        self.budget = budget
        self.timings = {
            kind: ProbeTiming(float(overrides.get(kind, DEFAULT_INTERVALS[kind]))) for kind in kinds
        }
        self.started = clock()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.timings)

    @property
    def share(self) -> float:
        """Fraction of wall time each kind may take."""
        return self.budget / max(1, len(self.timings))

    def interval(self, kind: str) -> float:
        """Seconds between runs of ``kind`` now: its base interval, stretched if it is slow."""
        return self.timings[kind].effective_interval(self.share)

    def due(self, kind: str, now: float | None = None) -> bool:
        """True when ``kind`` is active and its interval has passed (the first run waits one
        interval, so that the first steps of a run are not slowed by every probe at once)."""
        timing = self.timings.get(kind)
        if timing is None:
            return False
        now = self.clock() if now is None else now
        last = self.started if timing.last_run is None else timing.last_run
        return now - last >= timing.effective_interval(self.share)

    def record(self, kind: str, seconds: float, now: float | None = None) -> None:
        """Note that ``kind`` just ran and took ``seconds``."""
        timing = self.timings[kind]
        timing.cost = (
            seconds
            if timing.runs == 0
            else (_COST_SMOOTHING * seconds + (1 - _COST_SMOOTHING) * timing.cost)
        )
        timing.runs += 1
        timing.last_run = self.clock() if now is None else now

    def run(self, kind: str, probe: Callable[[], object]) -> object:
        """Run ``probe`` now, measuring it as a run of ``kind``; returns what it returned."""
        start = self.clock()
        try:
            return probe()
        finally:
            end = self.clock()
            self.record(kind, end - start, end)

    def disable(self, kind: str) -> None:
        """Stop scheduling ``kind`` (e.g. after it failed on this model)."""
        self.timings.pop(kind, None)

    def costs(self) -> dict[str, float]:
        """Smoothed seconds per run of every kind that has run."""
        return {k: t.cost for k, t in self.timings.items() if t.runs}


class ProbeRunner:
    """Runs the probes that apply to a model, when the scheduler says they are due.

    Its inputs: the sample at ``sample_index`` for the single-sample probes (``set_sample``
    switches it during a run) and the first ``batch_size`` samples for activation histograms.
    Calls ``emit(kind, data, error)``. A probe that raises is reported once through ``error``
    and switched off for the run; training goes on.
    """

    STEP_KINDS = (
        "filters",
        "weight_histograms",
        "feature_maps",
        "gates",
        "time_gradients",
        "activation_histograms",
    )
    EPOCH_KINDS = ("classification_report", "forecast_report")
    SAMPLE_KINDS = ("feature_maps", "gates", "time_gradients")  # look at the one chosen sample

    def __init__(
        self,
        model,
        *,
        task,
        num_classes,
        loss_fn,
        x_val,
        y_val,
        x_train,
        y_train,
        sample_index=0,
        kinds=None,
        intervals=None,
        budget=DEFAULT_BUDGET,
        batch_size=64,
        emit=None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model, self.loss_fn, self.task, self.num_classes = model, loss_fn, task, num_classes
        self.emit = emit or (lambda kind, data, error=None: None)
        use_val = len(x_val) > 0
        self.x_val, self.y_val = (x_val, y_val) if use_val else (x_train, y_train)
        self.split = "val" if use_val else "train"
        self.x_batch = self.x_val[:batch_size]
        self._choose(sample_index)
        self.recurrent = [n for n, m in model.named_children() if isinstance(m, nn.RNNBase)]
        has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules()) and self.x_one.dim() == 4
        wanted = {
            "layer_gradients": True,
            "weight_histograms": True,
            "activation_histograms": True,
            "filters": has_conv,
            "feature_maps": has_conv,
            "gates": bool(self.recurrent),
            "time_gradients": bool(self.recurrent),
            "classification_report": task == "classification",
            "forecast_report": task != "classification",
        }
        chosen = [k for k in PROBE_KINDS if wanted[k] and (kinds is None or k in kinds)]
        self.scheduler = ProbeScheduler(chosen, intervals=intervals, budget=budget, clock=clock)
        self._next_check = 0.0

    def _choose(self, index: int) -> None:
        problem = sample_index_problem(
            index, len(self.x_val), "validation" if self.split == "val" else "training"
        )
        if problem:
            raise ValueError(problem)
        index = int(index)
        self.x_one = self.x_val[index : index + 1]
        self.y_one = self.y_val[index : index + 1]
        self.sample = ProbeInput(
            index,
            self.split,
            frozen_array(self.x_one[0]),
            frozen_array(self.y_one[0], _np_dtype(self.y_one)),
        )

    def set_sample(self, index: int) -> None:
        """Look at sample ``index`` from now on: emits the new "probe_input", then runs the
        probes that depend on the sample (feature maps, gates, dL/dh_t) at once, so that the
        views show the new sample within a step rather than after their interval. ValueError
        (with a sentence) for an index outside the set."""
        self._choose(index)
        self.emit("probe_input", self.sample, None)
        for kind in self.SAMPLE_KINDS:
            if kind in self.scheduler.timings:
                self._run(kind)

    # ------------------------------------------------------------ hooks the Trainer calls

    def after_backward(self) -> None:
        """Between backward and the optimiser step: the real step's gradients are there."""
        if self.scheduler.due("layer_gradients"):
            self._run("layer_gradients")

    def between_steps(self) -> bool:
        """Run the probes that are due; True when any ran."""
        now = self.scheduler.clock()
        if now < self._next_check:  # one clock read per step in the common case
            return False
        ran = False
        for kind in self.STEP_KINDS:
            if self.scheduler.due(kind, now):
                self._run(kind)
                ran = True
        self._next_check = self.scheduler.clock() + _CHECK_EVERY
        return ran

    def after_epoch(self, final: bool) -> None:
        """Per-epoch reports on the validation set; on the last epoch, every probe once."""
        if final:
            # However short the run, every view ends up showing the trained network (a run
            # shorter than a probe's interval would otherwise leave its view empty).
            self.run_all()
            return
        for kind in self.EPOCH_KINDS:
            if kind in self.scheduler.timings and (final or self.scheduler.due(kind)):
                self._run(kind)

    def run_all(self) -> None:
        """Every active probe once now (tests, and a view that asks for a refresh)."""
        for kind in self.scheduler.kinds:
            self._run(kind)

    # ------------------------------------------------------------ the probes themselves

    def _run(self, kind: str) -> None:
        try:
            data = self.scheduler.run(kind, getattr(self, f"_probe_{kind}"))
        except Exception as exc:  # a probe bug must not end the training run; it is reported
            self.scheduler.disable(kind)
            self.emit(kind, None, f"The {kind.replace('_', ' ')} view is off for this run: {exc}")
            return
        self.emit(kind, data, None)

    def _probe_layer_gradients(self):
        return MappingProxyType(probes.layer_gradient_norms(self.model))

    def _probe_filters(self):
        return probes.conv_filters(self.model)

    def _probe_feature_maps(self):
        return probes.feature_maps(self.model, self.x_one)

    def _probe_weight_histograms(self):
        return probes.weight_histograms(self.model)

    def _probe_activation_histograms(self):
        return probes.activation_histograms(self.model, self.x_batch)

    def _probe_gates(self):
        return tuple(probes.recurrent_trace(self.model, b, self.x_one) for b in self.recurrent)

    def _probe_time_gradients(self):
        return tuple(
            probes.recurrent_gradient_flow(self.model, b, self.x_one, self.loss_fn, self.y_one)
            for b in self.recurrent
        )

    def _probe_classification_report(self):
        return probes.classification_report(self.model, self.x_val, self.y_val, self.num_classes)

    def _probe_forecast_report(self):
        return probes.forecast_report(self.model, self.x_val, self.y_val)


def sample_index_problem(index: object, count: int | None, split: str = "validation") -> str | None:
    """Why ``index`` cannot be the probe sample among ``count`` samples of ``split`` (None:
    not known yet, so only whole numbers from 0 pass), or None when it can."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        return f"The probe sample index must be a whole number, not {index!r}."
    if count is None:
        return None if index >= 0 else f"The probe sample index must be 0 or more, not {index}."
    if not 0 <= index < max(count, 1):
        return (
            f"The probe sample index {index} is outside the {count} samples of the "
            f"{split} set; choose 0 to {count - 1}."
        )
    return None


def _np_dtype(tensor) -> type:
    return np.int64 if not tensor.is_floating_point() else np.float32
