"""The Trainer: one training run that reports through callbacks and obeys control requests.

No Qt here. In the window's runs the Trainer runs in a child process
(engine/training/process.py), whose relay thread (engine/training/relay.py) calls
``request_pause``, ``request_resume``, ``request_stop`` and ``update_settings`` as the window's
messages arrive; the headless command line calls ``run()`` directly. A run is three parts: its setup, made once
(engine/training/setup.py), its controls (engine/training/control.py) and its loop
(engine/training/loop.py); the probes are a callback (engine/training/probe_callback.py),
added when ``settings.probes`` is on.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import torch

from engine.data import Dataset, DatasetError, DataSource
from engine.model.spec import ModelSpec, SpecError
from engine.probes import ProbeError
from engine.runs.checkpoint import Checkpoint, Progress
from engine.runs.folder import RunFolderError
from engine.training.control import RunControl, check_settings_changes
from engine.training.devices import DeviceError
from engine.training.distributed import DistributedError, PeerLost, ProcessGroup, lost_peer
from engine.training.events import (
    Callback,
    Event,
    Failed,
    Finished,
    ProbeSnapshot,
    dispatch,
    overrides_after_backward,
)
from engine.training.loop import TrainingLoop
from engine.training.probe_callback import ProbeCallback
from engine.training.settings import SettingsError, TrainSettings
from engine.training.setup import RunSetup, prepare_run

# Errors whose message is already a sentence for the user.
_USER_ERRORS = (
    SpecError, DatasetError, SettingsError, DeviceError, ProbeError, RunFolderError,
    DistributedError, PeerLost,
)  # fmt: skip


class Trainer:
    """Trains ``spec`` on ``dataset`` (a Dataset, or a DataSource or name loaded in ``run``).

    ``run()`` blocks until the run ends and returns the Finished or Failed event it emitted
    last. The control methods and ``report_probe`` may be called from any thread.
    """

    def __init__(
        self,
        spec: ModelSpec,
        dataset: Dataset | DataSource | str,
        settings: TrainSettings | None = None,
        callbacks: list[Callback] | tuple[Callback, ...] = (),
        *,
        run_id: int = 1,
        dataset_options: dict[str, Any] | None = None,
        resume_from: Checkpoint | None = None,
        group: ProcessGroup | None = None,
        data_source: DataSource | None = None,
    ) -> None:
        self.spec, self.dataset, self.run_id = spec, dataset, run_id
        # A checkpoint to go on from: its weights, optimiser and RNG states, epochs and steps.
        self.resume_from = resume_from
        # Where a Dataset handed over loaded was read from (the window's), for the run folder.
        self.data_source = data_source
        # The distributed run this process is one rank of (engine/training/distributed.py).
        self.group = group
        self.lost_peer = False  # the run ended because another rank stopped answering
        self.run_folder: str | None = None  # set by whoever records the run, for RunStarted
        self.settings = settings or TrainSettings()
        self.callbacks = list(callbacks)  # the probe callback is added last when run() starts
        self.dataset_options = dict(dataset_options or {})
        self.control = RunControl()
        self.setup: RunSetup | None = None  # once run() has made it
        self._loop: TrainingLoop | None = None

    # ------------------------------------------------------------ control, from any thread

    def request_pause(self) -> None:
        self.control.request_pause()

    def request_resume(self) -> None:
        self.control.request_resume()

    def request_stop(self) -> None:
        """Stop after the current step; the run ends with Finished(stopped_early=True)."""
        self.control.request_stop()

    def update_settings(self, **changes: Any) -> None:
        """Change lr, momentum, weight_decay, grad_clip or probe_sample_index from the next step
        on (also while paused). Raises SettingsError at once for a bad value; the optimiser
        state is kept.

        A new probe_sample_index (into the validation split) re-emits "probe_input" for that
        sample and runs the probes that look at the sample right away. Each applied change is
        recorded as a SettingsChanged; the probe sample gets one of its own, apart from the
        optimiser's settings, so the curves can tell the two apart."""
        data = self.setup.data if self.setup is not None else self.dataset
        self.control.queue_changes(check_settings_changes(self.settings, data, changes))

    @property
    def is_paused(self) -> bool:
        return self.control.is_paused

    def report_probe(self, kind: str, data: Any, error: str | None = None) -> None:
        """Send a probe snapshot (or, with ``data`` None, why that probe cannot run) to the
        callbacks as a ProbeSnapshot at the current step."""
        self._emit(ProbeSnapshot(self.run_id, self.step, kind, data, error))

    # ------------------------------------------------------------ what the run has made

    @property
    def step(self) -> int:
        """Optimiser steps done."""
        return self._loop.step if self._loop is not None else 0

    def progress(self, epochs_done: int) -> Progress:
        """Where the run is (steps, samples, the live learning rate), for a checkpoint."""
        if self._loop is None:
            return Progress(epochs_done, 0, 0, self.settings.lr, self.settings.grad_clip)
        return self._loop.progress(epochs_done)

    @property
    def data(self) -> Dataset | None:
        """The loaded dataset, once run() has it."""
        return self.setup.data if self.setup is not None else None

    @property
    def model(self) -> torch.nn.Module | None:
        return self.setup.model if self.setup is not None else None

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        return self.setup.optimizer if self.setup is not None else None

    # ------------------------------------------------------------ the run

    def run(self) -> Finished | Failed:
        """Train to the end (or Stop, or failure); emits events; never raises for a training
        error."""
        started = time.perf_counter()
        try:
            self.setup = prepare_run(self.spec, self.dataset, self.settings, self.dataset_options)
            if self.resume_from is not None:
                s = self.setup
                self.resume_from.restore(s.model, s.optimizer, s.shuffle_rng)
            probes = None
            # Not in a distributed run: a probe's own backward pass would meet DDP's gradient
            # hooks on one rank alone, and the others would wait for it.
            if self.setup.settings.probes and self.group is None:
                probes = ProbeCallback.for_run(self.setup, self.report_probe)
                self.callbacks.append(probes)
            self._loop = TrainingLoop(
                self.setup,
                self.control,
                run_id=self.run_id,
                model_name=self.spec.name,
                run_folder=self.run_folder,
                emit=self._emit,
                after_backward=tuple(
                    cb.on_after_backward for cb in self.callbacks if overrides_after_backward(cb)
                ),
                probes=probes,
                started=started,
                start=self.resume_from.progress if self.resume_from is not None else None,
                group=self.group,
            )
            result = self._loop.run()
        except Exception as exc:  # becomes an event: a run must never end silently
            if self.group is not None and lost_peer(exc):
                exc = PeerLost(self.group.rank)
            self.lost_peer = isinstance(exc, PeerLost)
            result = Failed(
                self.run_id,
                self.step,
                _readable(exc),
                self.setup.weights() if self.setup is not None else {},
                "" if isinstance(exc, _USER_ERRORS) else traceback.format_exc(),
            )
        if self._loop is not None and self.group is not None:
            self._loop.drop_ddp()
        self._emit(result)
        return result

    def _emit(self, event: Event) -> None:
        dispatch(self.callbacks, event)


def _readable(exc: BaseException) -> str:
    if isinstance(exc, _USER_ERRORS):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return "The device ran out of memory — lower the batch size or use a smaller model."
    return f"Training stopped because of an unexpected error ({type(exc).__name__}: {text})."


__all__ = ["Trainer"]
