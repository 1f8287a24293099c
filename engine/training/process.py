"""A training run in a child process, driven from the GUI: the two never share a GIL.

Why a process and not a thread: with the Trainer in a thread of the GUI process, every moment
the GUI thread runs Python (painting the views, updating the panel) is a moment the training
thread cannot, and the hand-offs of the one GIL between them cost more again (README,
Performance: with all nine views painting, training lost up to 15 % in a thread). In its own
process the Trainer keeps its interpreter to itself, and the GUI paints at the rate it likes.

The child runs the same :class:`~engine.training.trainer.Trainer` as the command line, with an
:class:`EventBuffer` as its callback; a relay thread in the child sends the buffer's contents to the parent
``UPDATE_HZ`` times a second (one pickled :class:`Drained` each) and applies the parent's
control messages (pause, resume, stop, settings) as they arrive. The parent side,
:class:`TrainingProcess`, is the Trainer's control surface plus :meth:`TrainingProcess.drain`.

No Qt here, and no torch at import: the GUI imports this module when its window opens.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engine.training.events import (
    Callback,
    Event,
    Failed,
    Finished,
    ProbeSnapshot,
    StepMetrics,
    keep_newest,
)

if TYPE_CHECKING:
    from engine.data import Dataset
    from engine.model.spec import ModelSpec
    from engine.training.settings import TrainSettings
    from engine.training.trainer import Trainer

# How many times a second a run's events reach the window: the child's relay sends what it has
# buffered, and the window's TrainingController delivers what has arrived, at this one rate.
# Ten a second is as often as a curve or a view can usefully change for a person watching, and
# it keeps the window's signal and repaint rate bounded whatever the speed of training.
UPDATE_HZ = 10


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


# ---------------------------------------------------------------- the parent's side


_context: multiprocessing.context.BaseContext | None = None


def process_context(cpu: bool = True) -> multiprocessing.context.BaseContext:
    """How runs are started. A CPU run on Linux forks from a server that has imported torch
    and the Trainer once (torch.optim's first use imports torch._dynamo, ~1.4 s), so it starts
    in ~0.1 s. A GPU run, and any run elsewhere, spawns a fresh interpreter, which imports them
    again (~2-3 s): CUDA cannot be used in a forked child of a process that touched it, and
    spawn is CUDA's own advice."""
    global _context
    if not cpu or not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["engine.training.trainer", "torch._dynamo"])
    return _context


def warm_up() -> None:
    """Start the fork server now (where there is one), so that it has imported torch by the
    time the user presses Train. Returns at once; the import happens in the server."""
    if process_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class TrainingProcess:
    """One Trainer run in a child process: the Trainer's controls, and its events by drain().

    Starts at once. ``drain()`` waits only when asked to; ``wait()`` drains while it waits, so a child
    that is sending its last (large) events is never stuck on a full pipe.
    """

    def __init__(
        self,
        spec: ModelSpec,
        dataset: Dataset | str,
        settings: TrainSettings,
        *,
        run_id: int = 1,
        dataset_options: dict[str, Any] | None = None,
    ) -> None:
        # update_settings checks changes against the settings and the dataset, as the Trainer does.
        self.dataset, self.settings, self.run_id = dataset, settings, run_id
        ctx = process_context(cpu=runs_on_cpu(settings.device))
        self._events, child_events = ctx.Pipe(duplex=False)
        child_control, self._control = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=child_main,
            args=(spec, dataset, settings, run_id, dataset_options, child_events, child_control),
            name=f"layerlab-training-{run_id}",
            daemon=True,  # never outlives the window
        )
        self._start_error: BaseException | None = None
        # Starting copies the dataset to the child (~1 s for 220 MB here): off the GUI thread.
        self._starter = threading.Thread(
            target=self._start, args=(child_events, child_control), name="layerlab-start"
        )
        self._starter.start()
        self._pending = Drained()
        self._closed = False  # the child's side of the event pipe is closed
        self.last_step = 0
        self.ended = False  # a Finished or Failed arrived
        self._killed = False  # by kill(), not by something outside

    def _start(self, child_events: Connection, child_control: Connection) -> None:
        try:
            self.process.start()
        except Exception as exc:  # the events pipe then ends at once, and _close says why
            self._start_error = exc
        finally:
            # The parent's copies of the child's ends: closed, so that its exit is an EOF.
            child_events.close()
            child_control.close()

    @property
    def pid(self) -> int | None:
        """The child's process id, once it has started (None before)."""
        return self.process.pid

    # ------------------------------------------------------------ controls

    def request_pause(self) -> None:
        self._send(("pause",))

    def request_resume(self) -> None:
        self._send(("resume",))

    def request_stop(self) -> None:
        self._send(("stop",))

    def update_settings(self, **changes: Any) -> None:
        """As :meth:`Trainer.update_settings`: SettingsError here, at once, for a bad value."""
        from engine.training.control import check_settings_changes

        self._send(("settings", check_settings_changes(self.settings, self.dataset, changes)))

    def _send(self, message: tuple) -> None:
        with contextlib.suppress(OSError):  # the child has ended; its events are still drained
            self._control.send(message)

    # ------------------------------------------------------------ events

    def drain(self, wait: float = 0.0) -> Drained:
        """Everything received since the last drain. When nothing has come yet, waits up to
        ``wait`` seconds for the next batch (the window's timer never waits)."""
        self._receive(wait if self._pending.empty else 0.0)
        out, self._pending = self._pending, Drained()
        return out

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the child to end, receiving its events meanwhile.
        True when it has ended."""
        deadline = time.monotonic() + timeout
        while not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._receive(min(left, 0.05))
        self._starter.join()
        if self._start_error is not None:
            return True
        self.process.join(max(0.0, deadline - time.monotonic()))
        return self.process.exitcode is not None

    def kill(self) -> None:
        """End a child that did not stop in time (a single step longer than the wait)."""
        self._killed = True
        self._starter.join()
        if self._start_error is None:
            self.process.kill()
            self.process.join(2.0)
        self._close()

    def _receive(self, timeout: float = 0.0) -> None:
        try:
            while not self._closed and self._events.poll(timeout):
                timeout = 0.0
                batch: Drained = self._events.recv()
                if batch.steps:
                    self.last_step = batch.steps[-1].step
                self.ended = self.ended or any(
                    isinstance(e, Finished | Failed) for e in batch.events
                )
                self._pending = self._pending.then(batch)
        except (EOFError, OSError):
            self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._events.close()
        self._control.close()
        if not self.ended:  # the child died without saying why (killed, out of memory, crash)
            self._starter.join()
            self.ended = True
            if self._start_error is not None:
                message = (
                    "LayerLab could not start the training process "
                    f"({type(self._start_error).__name__}: {self._start_error}). Press Train to "
                    "try again; if it fails the same way, please report this message."
                )
            elif self._killed:
                message = (
                    "The run did not stop within its time limit after Stop (one training step "
                    "takes longer), so it was ended; the weights of this run are lost."
                )
            else:
                self.process.join(1.0)
                message = _death_message(self.process.exitcode)
            failed = Failed(self.run_id, self.last_step, message)
            self._pending = self._pending.then(Drained(events=[failed]))


def _death_message(code: int | None) -> str:
    if code is not None and code < 0:
        why = (
            f"was killed (signal {-code}) before the run ended: the system may have run out of "
            "memory, or something outside LayerLab stopped it"
        )
        advice = "Press Train to start again, with a smaller batch or model if memory was short."
    else:
        why = f"ended unexpectedly (exit code {code}) before the run ended"
        advice = "The terminal that started LayerLab shows why; press Train to try again."
    return f"The training process {why}. The weights of this run are lost. {advice}"


def runs_on_cpu(device: str) -> bool:
    """Whether a run on ``device`` trains on the CPU (which decides how its process starts)."""
    from engine.training.devices import DeviceError, resolve_device

    try:
        return resolve_device(device).type == "cpu"
    except DeviceError:  # the run reports it, with the same message, from either kind of start
        return True


# ---------------------------------------------------------------- the child's side


def child_main(
    spec: ModelSpec,
    dataset: Dataset | str,
    settings: TrainSettings,
    run_id: int,
    dataset_options: dict[str, Any] | None,
    events: Connection,
    control: Connection,
) -> None:
    """The child process: run the Trainer, relay its events and the parent's controls."""
    from engine.training.trainer import Trainer

    buffer = EventBuffer()
    trainer = Trainer(
        spec, dataset, settings, [buffer], run_id=run_id, dataset_options=dataset_options
    )
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
