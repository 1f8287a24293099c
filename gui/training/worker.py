"""The thread bridge: a Trainer runs in a QThread; its events reach the GUI coalesced at 10 Hz.

Design: the Trainer's callback only appends to an :class:`EventBuffer` under a lock, so the
training thread never touches Qt per step. The GUI-thread :class:`TrainingController` drains
the buffer from a QTimer (``UPDATE_HZ`` a second) and re-emits the contents as its own signals:
a run start first, then every step's metrics as one list (curves stay complete), then every
epoch, settings, pause and end event in order, then the newest probe snapshot of each kind. The rate of GUI updates is
therefore bounded by the timer, whatever the speed of training.

Why a worker QObject moved to a plain QThread rather than a QThread subclass: the worker's
``run`` slot then really runs in the new thread (a QThread subclass's own slots run in the GUI
thread, a classic trap), and ``thread.finished -> worker.deleteLater`` is Qt's documented way
to free both once the run is over.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from engine.events import Callback, Event, Failed, ProbeSnapshot, StepMetrics

if TYPE_CHECKING:  # engine.train imports torch (~2 s): the window must not wait for it
    from engine.train import Trainer, TrainSettings

# Measured on the 2-core development machine (README, "Torch threads"): 1 torch thread beside
# the GUI trains as fast as a plain 1-thread script, 2 threads contend with the GUI thread.
DEFAULT_GUI_TORCH_THREADS = 1
UPDATE_HZ = 10


@dataclass(frozen=True)
class Drained:
    """What arrived since the last drain: every step's metrics, the other events in arrival
    order, and the newest probe snapshot of each kind."""

    steps: list[StepMetrics]
    events: list[Event]
    probes: dict[str, ProbeSnapshot]

    @property
    def empty(self) -> bool:
        return not self.steps and not self.events and not self.probes


class EventBuffer(Callback):
    """Thread-safe inbox the Trainer writes and the GUI thread drains; nothing is lost except
    older probe snapshots of a kind, which a newer one replaces."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[StepMetrics] = []
        self._events: list[Event] = []
        self._probes: dict[str, ProbeSnapshot] = {}

    def on_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, StepMetrics):
                self._steps.append(event)
            elif isinstance(event, ProbeSnapshot):
                self._probes.pop(event.kind, None)  # re-insert: dict order = arrival order
                self._probes[event.kind] = event
            else:
                self._events.append(event)

    def drain(self) -> Drained:
        with self._lock:
            out = Drained(self._steps, self._events, self._probes)
            self._steps, self._events, self._probes = [], [], {}
        return out


class TrainingWorker(QObject):
    """Runs one Trainer in whatever thread it lives in; ``run_ended`` when it has returned."""

    run_ended = Signal()

    def __init__(self, trainer: Trainer, buffer: EventBuffer) -> None:
        super().__init__()
        self.trainer = trainer
        self.buffer = buffer

    @Slot()
    def run(self) -> None:
        try:
            self.trainer.run()  # reports its own failures as a Failed event
        except BaseException as exc:  # a bug in the Trainer itself: still a visible failure
            message = (
                f"Training stopped because of an internal error ({type(exc).__name__}: {exc})."
            )
            self.buffer.on_event(
                Failed(
                    self.trainer.run_id, self.trainer.step, message, details=traceback.format_exc()
                )
            )
        finally:
            self.run_ended.emit()


def gui_settings(settings: TrainSettings | None) -> TrainSettings:
    """``settings`` with the GUI's torch thread count filled in where it was left open."""
    from engine.train import TrainSettings

    settings = settings or TrainSettings()
    if settings.torch_threads is None:
        settings = replace(settings, torch_threads=DEFAULT_GUI_TORCH_THREADS)
    return settings
