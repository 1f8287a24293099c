"""The immutable events a training run reports, and the no-op callback base class.

The Trainer calls a callback with these; the GUI's training process relays them to the window
(pickled, so every field must pickle) and the headless CLI prints them. Arrays in events are
CPU numpy copies, never live tensors, so a view can keep a snapshot as long as it likes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    model_name: str
    dataset_name: str
    device: str
    total_epochs: int | None  # None: until stopped
    steps_per_epoch: int
    settings: Mapping[str, Any]  # optimiser, lr, batch size, ... as plain values
    first_step: int = 0  # steps done before this start: more than 0 when the run was resumed
    first_epoch: int = 0  # epochs done before this start
    run_folder: str | None = None  # where the run is recorded (engine/runs), if it is
    processes: int = 1  # processes training together (a distributed run: torchrun, DDP)


@dataclass(frozen=True)
class StepMetrics:
    run_id: int
    step: int  # global step, from 1
    epoch: int  # from 1
    loss: float
    lr: float
    samples_per_second: float
    eta_seconds: float | None
    accuracy: float | None = None  # batch accuracy, classification only


@dataclass(frozen=True)
class EpochMetrics:
    run_id: int
    epoch: int
    step: int
    train_loss: float
    val_loss: float
    train_accuracy: float | None = None
    val_accuracy: float | None = None
    val_mae: float | None = None  # regression / forecasting only
    seconds: float = 0.0


@dataclass(frozen=True)
class SettingsChanged:
    """A marker in the history: optimiser settings changed mid-run (shown on the curves)."""

    run_id: int
    step: int
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class ProbeSnapshot:
    """One probe's result at a step: ``kind`` names the probe, ``data`` is the probe's dataclass."""

    run_id: int
    step: int
    kind: str
    data: Any  # None when the probe failed on this model (see ``error``)
    error: str | None = None  # why the probe cannot run; it is then switched off for the run


@dataclass(frozen=True)
class Paused:
    run_id: int
    step: int
    paused: bool  # False when resumed


@dataclass(frozen=True)
class Finished:
    run_id: int
    step: int
    epochs_done: int
    stopped_early: bool  # the user pressed Stop
    seconds: float
    samples_per_second: float
    final: EpochMetrics | None
    weights: Mapping[str, np.ndarray] = field(
        default_factory=dict
    )  # CPU copies, by state_dict name
    # Per probe kind that ran: (seconds per run, seconds between runs at the end), for benches.
    probe_costs: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    run_id: int
    step: int
    message: str  # a sentence for the user: what went wrong and what to do
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)  # the last good weights
    details: str = ""  # the traceback of an unexpected error, for a "details" box; else empty


Event = (
    RunStarted
    | StepMetrics
    | EpochMetrics
    | SettingsChanged
    | ProbeSnapshot
    | Paused
    | Finished
    | Failed
)


def keep_newest(probes: dict[str, ProbeSnapshot], snapshots: Iterable[ProbeSnapshot]) -> None:
    """Add ``snapshots`` to ``probes`` (by kind, in place): a newer snapshot of a kind replaces
    the older one and moves to the end, so the order is that of the newest arrivals. Views
    show only the newest snapshot, so this is how every batch of them is thinned."""
    for snapshot in snapshots:
        probes.pop(snapshot.kind, None)
        probes[snapshot.kind] = snapshot


class Callback:
    """No-op hooks, Lightning-style: subclass and override what you need.

    Every event goes to ``on_event`` and then to its own hook. ``on_after_backward`` is the one
    hook without an event: the Trainer calls it between backward and the optimiser step, where
    the step's gradients are there to look at, and only on callbacks that override it (it is
    on the hot path)."""

    def on_event(self, event: Event) -> None:
        """Called for every event, before the specific hook."""

    def on_after_backward(self) -> None: ...

    def on_run_start(self, event: RunStarted) -> None: ...
    def on_step_end(self, event: StepMetrics) -> None: ...
    def on_epoch_end(self, event: EpochMetrics) -> None: ...
    def on_settings_changed(self, event: SettingsChanged) -> None: ...
    def on_probe(self, event: ProbeSnapshot) -> None: ...
    def on_pause(self, event: Paused) -> None: ...
    def on_finish(self, event: Finished) -> None: ...
    def on_fail(self, event: Failed) -> None: ...


_HOOKS = {
    RunStarted: "on_run_start",
    StepMetrics: "on_step_end",
    EpochMetrics: "on_epoch_end",
    SettingsChanged: "on_settings_changed",
    ProbeSnapshot: "on_probe",
    Paused: "on_pause",
    Finished: "on_finish",
    Failed: "on_fail",
}


def overrides_after_backward(callback: Callback) -> bool:
    """True when ``callback`` does something in ``on_after_backward``."""
    return type(callback).on_after_backward is not Callback.on_after_backward


def dispatch(callbacks: list[Callback], event: Event) -> None:
    """Send ``event`` to every callback's on_event and its specific hook."""
    hook = _HOOKS[type(event)]
    for cb in callbacks:
        cb.on_event(event)
        getattr(cb, hook)(event)
