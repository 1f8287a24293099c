"""The child's side of a training run: the Trainer's events buffered and relayed to the window
in batches, and the window's controls applied to the Trainer as they arrive.

In the child, the Trainer's callback is an :class:`EventBuffer`; a relay thread sends what it
holds to the parent ``UPDATE_HZ`` times a second (one pickled :class:`Drained` each) and applies
the parent's control messages (pause, resume, stop, settings). No Qt here, and no torch at
import: the window imports Drained and UPDATE_HZ from here.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engine.training.events import (
    Callback,
    Event,
    Failed,
    ProbeSnapshot,
    StepMetrics,
    keep_newest,
)

if TYPE_CHECKING:
    from engine.data import Dataset
    from engine.model.spec import ModelSpec
    from engine.training.settings import TrainSettings
    from engine.training.trainer import Trainer

# Batches a second: the loss curves can redraw no more often than steps arrive (README
# "Performance": >= 10 redraws a second needs more than 10 batches).
UPDATE_HZ = 20


def _read_only(mapping: dict) -> MappingProxyType:
    return MappingProxyType(mapping)


# Probe results are read-only mappings (MappingProxyType), which pickle cannot copy by itself.
ForkingPickler.register(MappingProxyType, lambda m: (_read_only, (dict(m),)))


@dataclass(frozen=True)
class Drained:
    """What arrived since the last drain: every step's metrics, the other events in arrival
    order, and the newest probe snapshot of each kind."""

    steps: list[StepMetrics] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    probes: dict[str, ProbeSnapshot] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.steps and not self.events and not self.probes

    def then(self, later: Drained) -> Drained:
        """Both, in order; a newer probe snapshot of a kind replaces the older one."""
        probes = dict(self.probes)
        keep_newest(probes, later.probes.values())
        return Drained(self.steps + later.steps, self.events + later.events, probes)


class EventBuffer(Callback):
    """Thread-safe inbox the Trainer writes and the relay drains; nothing is lost except
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
                keep_newest(self._probes, (event,))
            else:
                self._events.append(event)

    def drain(self) -> Drained:
        with self._lock:
            out = Drained(self._steps, self._events, self._probes)
            self._steps, self._events, self._probes = [], [], {}
        return out


def child_main(
    spec: ModelSpec,
    dataset: Dataset | str,
    settings: TrainSettings,
    run_id: int,
    dataset_options: dict[str, Any] | None,
    events: Connection,
    control: Connection,
    extras: dict[str, Any] | None = None,
) -> None:
    """The child process: run the Trainer, relay its events and the parent's controls.
    ``extras``: ``resume_from`` and ``run_folder`` (Continue), ``data_source``."""
    from engine.training.trainer import Trainer

    extras = extras or {}
    buffer = EventBuffer()
    trainer = Trainer(
        spec, dataset, settings, [buffer], run_id=run_id, dataset_options=dataset_options,
        resume_from=extras.get("resume_from"), data_source=extras.get("data_source"),
    )  # fmt: skip
    _record(trainer, extras.get("run_folder"))
    done = threading.Event()
    relay = threading.Thread(
        target=_relay, args=(trainer, buffer, events, control, done), name="layerlab-relay"
    )
    relay.start()
    try:
        trainer.run()  # reports its own failures as a Failed event
    except BaseException as exc:  # a bug in the Trainer itself: still a visible failure
        buffer.on_event(Failed(
            run_id, trainer.step,
            f"Training stopped because of an internal error ({type(exc).__name__}: {exc}).",
            details=traceback.format_exc(),
        ))  # fmt: skip
    finally:
        done.set()
        relay.join()
        last = buffer.drain()
        with contextlib.suppress(OSError):  # nobody is listening any more
            if not last.empty:
                send_drained(events, last)
            events.close()


def _record(trainer: Trainer, run_folder: str | None = None) -> None:
    """Every window run writes its run folder (engine/runs) from here, in the process that
    trains; RunStarted.run_folder tells the window where. A folder that cannot be made costs
    the run its recording (the reason goes to the terminal), not the run. ``run_folder``: a
    resumed run's own folder (Continue), written on from its checkpoint."""
    if not trainer.settings.record:
        return
    from engine.runs.folder import RunFolderError, new_run_folder, user_runs_dir
    from engine.runs.recorder import RunRecorder

    parent = trainer.settings.runs_folder or user_runs_dir()
    try:
        folder = (
            Path(run_folder) if run_folder else new_run_folder(parent, trainer.spec.name or "run")
        )
    except RunFolderError as error:
        print(f"layerlab: this run is not recorded: {error}", file=sys.stderr)
        return
    trainer.run_folder = str(folder)
    # First, before the relay's buffer: the recorder's end waits for its writes, so the run's
    # folder is complete on disk before the window hears that the run ended.
    trainer.callbacks.insert(
        0, RunRecorder(folder, trainer, checkpoint_every=trainer.settings.checkpoint_every)
    )


def _relay(
    trainer: Trainer,
    buffer: EventBuffer,
    events: Connection,
    control: Connection | None,
    done: threading.Event,
) -> None:
    """Send the buffer UPDATE_HZ times a second; apply control messages as soon as they come."""
    period = 1.0 / UPDATE_HZ
    next_flush = time.monotonic() + period
    while not done.is_set():
        left = max(0.0, next_flush - time.monotonic())
        if control is None:
            done.wait(left)
        else:
            try:
                if control.poll(left):
                    _apply(trainer, control.recv())
                    if time.monotonic() < next_flush:
                        continue
            except (EOFError, OSError):  # the window is gone: nobody will see this run
                control = None
                trainer.request_stop()
        drained = buffer.drain()
        try:
            if not drained.empty:
                send_drained(events, drained)
        except OSError:  # the window has closed its end: stop, and let the process end
            trainer.request_stop()
            return
        next_flush = time.monotonic() + period


def send_drained(events: Connection, drained: Drained) -> None:
    """Send one batch; a probe result that cannot be pickled becomes that view's message
    instead of ending the run."""
    try:
        events.send(drained)
    except (pickle.PicklingError, TypeError, AttributeError):
        probes = {}
        for kind, snapshot in drained.probes.items():
            try:
                ForkingPickler.dumps(snapshot)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                snapshot = replace(snapshot, data=None, error=(
                    f"The {kind.replace('_', ' ')} view cannot show this run: its data could "
                    f"not be passed to the window ({exc})."
                ))  # fmt: skip
            probes[kind] = snapshot
        events.send(replace(drained, probes=probes))


def _apply(trainer: Trainer, message: tuple) -> None:
    from engine.training.settings import SettingsError

    kind = message[0]
    if kind == "pause":
        trainer.request_pause()
    elif kind == "resume":
        trainer.request_resume()
    elif kind == "stop":
        trainer.request_stop()
    elif kind == "settings":
        try:
            trainer.update_settings(**message[1])
        except SettingsError as error:
            # Only a probe sample the parent could not check (its dataset was loaded here).
            trainer.report_probe("probe_input", None, str(error))
