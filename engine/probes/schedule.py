"""When to run each probe: at a rate bounded by time, inside a share of the training time.

Each probe kind has a default interval in seconds (engine/probes/registry.py). The scheduler
gives every active kind its own :class:`~engine.pacing.Pacer` with an equal share of the
``budget`` (5 %): a kind whose runs cost c seconds runs no more often than every c / share
seconds, so that together the probes take at most ``budget`` of the wall time. Time, not steps,
because a step costs 50 µs on one model and 500 ms on another, while a person looks at the
views at the same rate either way.

What a kind computes, when in a step it runs and which models it applies to all come from
the registry; nothing here knows one kind from another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import numpy as np
from torch import nn

from engine.pacing import Pacer
from engine.probes.common import frozen_array
from engine.probes.registry import DEFAULT_BUDGET, PROBES, ModelTraits, ProbeRegistry
from engine.probes.snapshots import ProbeInput
from engine.training.settings import sample_index_problem

_CHECK_EVERY = 0.05  # seconds between looks at the step-time probes (intervals are >= this)


class ProbeScheduler:
    """Decides which probe kinds are due and measures them; not thread-safe (one per run).

    A kind is first due one interval after the scheduler is made; the ProbeRunner runs every
    kind once after the first step instead, so the interval counts from that first look."""

    def __init__(
        self,
        kinds: Iterable[str],
        *,
        intervals: Mapping[str, float] | None = None,
        budget: float = DEFAULT_BUDGET,
        clock: Callable[[], float] = time.perf_counter,
        registry: ProbeRegistry = PROBES,
    ) -> None:
        overrides = dict(intervals or {})
        known = registry.kinds()
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"unknown probe kind {unknown[0]!r}; kinds: {', '.join(known)}")
        self.clock = clock
        self.budget = budget
        kinds = tuple(kinds)
        share = budget / max(1, len(kinds))
        self.pacers = {
            kind: Pacer(float(overrides.get(kind, registry[kind].interval)), share, clock=clock)
            for kind in kinds
        }

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.pacers)

    @property
    def share(self) -> float:
        """Fraction of wall time each kind may take."""
        return self.budget / max(1, len(self.pacers))

    def interval(self, kind: str) -> float:
        """Seconds between runs of ``kind`` now: its base interval, stretched if it is slow."""
        return self.pacers[kind].wait()

    def due(self, kind: str, now: float | None = None) -> bool:
        """True when ``kind`` is active and its interval has passed."""
        pacer = self.pacers.get(kind)
        return pacer is not None and pacer.due(now)

    def record(self, kind: str, seconds: float, now: float | None = None) -> None:
        """Note that ``kind`` just ran and took ``seconds``."""
        self.pacers[kind].record(seconds, now)

    def run(self, kind: str, probe: Callable[[], object]) -> object:
        """Run ``probe`` now, measuring it as a run of ``kind``; returns what it returned."""
        return self.pacers[kind].run(probe)

    def disable(self, kind: str) -> None:
        """Stop scheduling ``kind`` (e.g. after it failed on this model); the kinds left share
        its part of the budget."""
        self.pacers.pop(kind, None)
        for pacer in self.pacers.values():
            pacer.budget = self.share

    def costs(self) -> dict[str, float]:
        """Smoothed seconds per run of every kind that has run."""
        return {k: p.cost for k, p in self.pacers.items() if p.runs}


def model_traits(model: nn.Module, sample, task: str) -> ModelTraits:
    """What the registry needs to know to pick the probes for ``model`` (``sample`` is one
    input batch: conv probes need an image, N×C×H×W)."""
    has_conv = sample.dim() == 4 and any(isinstance(m, nn.Conv2d) for m in model.modules())
    recurrent = tuple(n for n, m in model.named_children() if isinstance(m, nn.RNNBase))
    return ModelTraits(has_conv, recurrent, task, tuple(sample.shape[1:]))


class ProbeRunner:
    """Runs the probes that apply to a model, when the scheduler says they are due.

    It is also the context every ``PROBES[kind].compute`` receives: ``model``, ``loss_fn``,
    ``num_classes``, ``traits``, the chosen sample ``x_one``/``y_one`` (and ``sample``, its
    ProbeInput; ``set_sample`` switches it during a run), the validation arrays
    ``x_val``/``y_val`` (the training set's first ``batch_size`` samples when there is no
    validation set) and ``x_batch``, their first ``batch_size`` samples.
    ``registry`` says which kinds there are (tests pass their own).
    Calls ``emit(kind, data, error)``. A probe that raises is reported once through ``error``
    and switched off for the run; training goes on.
    """

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
        registry: ProbeRegistry = PROBES,
    ) -> None:
        self.model, self.loss_fn, self.num_classes = model, loss_fn, num_classes
        self.emit = emit or (lambda kind, data, error=None: None)
        use_val = len(x_val) > 0
        self.x_val, self.y_val = (x_val, y_val) if use_val else (x_train, y_train)
        self.split = "val" if use_val else "train"
        self.x_batch = self.x_val[:batch_size]
        self._choose(sample_index)
        self.traits = model_traits(model, self.x_one, task)
        self.registry = registry
        chosen = [k for k in registry.applying_to(self.traits) if kinds is None or k in kinds]
        self.scheduler = ProbeScheduler(
            chosen, intervals=intervals, budget=budget, clock=clock, registry=registry
        )
        self._backward = tuple(k for k in chosen if registry[k].when == "backward")
        self._step = tuple(k for k in chosen if registry[k].when == "step")
        self._epoch = tuple(k for k in chosen if registry[k].when == "epoch")
        self._on_sample = tuple(k for k in chosen if registry[k].looks_at_sample)
        self._next_check = 0.0
        self._looked = False  # every kind runs once after the run's first step

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
        probes that look at the sample at once, so that the views show the new sample within
        a step rather than after their interval. ValueError (with a sentence) for an index
        outside the set."""
        self._choose(index)
        self.emit("probe_input", self.sample, None)
        for kind in self._on_sample:
            if kind in self.scheduler.pacers:  # not switched off by an earlier failure
                self._run(kind)

    # ------------------------------------------------------------ when in a step

    def after_backward(self) -> None:
        """Between backward and the optimiser step: the real step's gradients are there."""
        for kind in self._backward:
            if self.scheduler.due(kind):
                self._run(kind)

    def between_steps(self) -> bool:
        """Run the probes that are due; True when any ran. After the run's first step every
        kind runs once, whatever its timing, so that every view has something to show from
        the start of a run instead of one interval (up to 2 s) later. The first step's
        gradients are still there (they are cleared at the next step's backward)."""
        if not self._looked:
            self._looked = True
            self.run_all()
            self._next_check = self.scheduler.clock() + _CHECK_EVERY
            return True
        now = self.scheduler.clock()
        if now < self._next_check:  # one clock read per step in the common case
            return False
        ran = False
        for kind in self._step:
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
        for kind in self._epoch:
            if self.scheduler.due(kind):
                self._run(kind)

    def run_all(self) -> None:
        """Every active probe once now (tests, and a view that asks for a refresh)."""
        for kind in self.scheduler.kinds:
            self._run(kind)

    def _run(self, kind: str) -> None:
        entry = self.registry[kind]
        try:
            data = self.scheduler.run(kind, lambda: entry.compute(self))
        except Exception as exc:  # a probe bug must not end the training run; it is reported
            self.scheduler.disable(kind)
            self.emit(kind, None, f"The {entry.label} view is off for this run: {exc}")
            return
        self.emit(kind, data, None)


def _np_dtype(tensor) -> type:
    return np.int64 if not tensor.is_floating_point() else np.float32
