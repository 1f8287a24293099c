"""A training run in a child process, driven from the GUI: the two never share a GIL.

Why a process and not a thread: with the Trainer in a thread of the GUI process, every moment
the GUI thread runs Python (painting the views, updating the panel) is a moment the training
thread cannot, and the hand-offs of the one GIL between them cost more again (README,
Performance: with all nine views painting, training lost up to 15 % in a thread). In its own
process the Trainer keeps its interpreter to itself, and the GUI paints at the rate it likes.

The child runs the same :class:`~engine.training.trainer.Trainer` as the command line, and
relays its events and the parent's controls (engine/training/relay.py). This is the parent's
side: :class:`TrainingProcess`, the Trainer's control surface plus
:meth:`TrainingProcess.drain`, and how the child is started.

No Qt here, and no torch at import: the GUI imports this module when its window opens.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from engine.training.events import Failed, Finished
from engine.training.relay import Drained, child_main

if TYPE_CHECKING:
    from engine.data import Dataset
    from engine.model.spec import ModelSpec
    from engine.training.settings import TrainSettings

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
        resume_from: Any = None,
        run_folder: str | None = None,
        data_source: Any = None,
    ) -> None:
        """``resume_from``: a Checkpoint to go on from (engine/runs/checkpoint.py), recorded
        into its own ``run_folder`` (Continue); otherwise a new run folder is made.
        ``data_source``: where a ``dataset`` handed over loaded was read from, for the run
        folder (so the run can be resumed without being told)."""
        # update_settings checks changes against the settings and the dataset, as the Trainer does.
        self.dataset, self.settings, self.run_id = dataset, settings, run_id
        ctx = process_context(cpu=runs_on_cpu(settings.device))
        self._events, child_events = ctx.Pipe(duplex=False)
        child_control, self._control = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=child_main,
            args=(
                spec,
                dataset,
                settings,
                run_id,
                dataset_options,
                child_events,
                child_control,
                {"resume_from": resume_from, "run_folder": run_folder, "data_source": data_source},
            ),  # fmt: skip
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
