"""TrainingController: what the main window and the dashboard use to run training.

One controller lives as long as the window; each ``start`` makes a new
:class:`~engine.training.process.TrainingProcess`: the Trainer runs in a child process, so the
GUI's painting never competes with it for Python's GIL (engine/training/process.py says why).
A GUI-thread timer drains the process's events ``UPDATE_HZ`` times a second (the rate at which
the child sends them; engine/training/relay.py) and re-emits them as signals: a run start
first, then every step's metrics as one list (curves stay complete), then every epoch,
settings, pause and end event in order, then the newest probe snapshot of each kind. The rate
of GUI updates is therefore bounded by the timer, whatever the speed of training.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from engine.model.spec import ModelSpec
from engine.training.events import (
    EpochMetrics,
    Failed,
    Finished,
    Paused,
    RunStarted,
    SettingsChanged,
)
from engine.training.process import TrainingProcess
from engine.training.relay import UPDATE_HZ
from engine.training.settings import GUI_TORCH_THREADS

if TYPE_CHECKING:  # torch is imported on the first start(), not when the window opens
    from engine.data import Dataset
    from engine.training.settings import TrainSettings

STOP_TIMEOUT_MS = 2000
DEFAULT_GUI_TORCH_THREADS = GUI_TORCH_THREADS  # why one: engine/training/settings.py


def gui_settings(settings: TrainSettings | None) -> TrainSettings:
    """``settings`` with the GUI's torch thread count filled in where it was left open."""
    from engine.training.settings import TrainSettings

    settings = settings or TrainSettings()
    if settings.torch_threads is None:
        settings = replace(settings, torch_threads=DEFAULT_GUI_TORCH_THREADS)
    return settings


class TrainingController(QObject):
    """Starts, pauses, resumes and stops runs; turns their events into GUI-thread signals."""

    run_started = Signal(object)  # RunStarted
    steps_received = Signal(list)  # [StepMetrics, ...]: every step since the last update
    epoch_finished = Signal(object)  # EpochMetrics
    settings_changed = Signal(object)  # SettingsChanged (a marker on the curves)
    probe_updated = Signal(object)  # ProbeSnapshot, newest of its kind
    paused_changed = Signal(bool)
    run_finished = Signal(object)  # Finished (with CPU numpy weights)
    run_failed = Signal(object)  # Failed (message and the last good weights)
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // UPDATE_HZ)
        self._timer.timeout.connect(self._deliver)
        self._run_id = 0
        self._run: TrainingProcess | None = None
        self._paused = False

    # ------------------------------------------------------------ commands

    def start(
        self,
        spec: ModelSpec,
        dataset: Dataset | str,
        settings: TrainSettings | None = None,
        *,
        dataset_options: dict[str, Any] | None = None,
        resume_from: Any = None,
        run_folder: str | None = None,
        data_source: Any = None,
    ) -> int:
        """Stop any run in progress, then train ``spec`` on ``dataset`` (loaded in the training
        process when it is a name or path). ``resume_from``: a checkpoint to go on from, in its
        own ``run_folder`` (Continue). Returns the new run's id."""
        self.shutdown()
        self._run_id += 1
        self._run = TrainingProcess(
            spec,
            dataset,
            gui_settings(settings),
            run_id=self._run_id,
            dataset_options=dataset_options,
            resume_from=resume_from,
            run_folder=run_folder,
            data_source=data_source,
        )
        self._paused = False
        self._timer.start()
        self.running_changed.emit(True)
        return self._run_id

    def pause(self) -> None:
        if self._run is not None:
            self._run.request_pause()

    def resume(self) -> None:
        if self._run is not None:
            self._run.request_resume()

    def stop(self) -> None:
        """Ask the run to stop after its current step; returns at once (run_finished follows)."""
        if self._run is not None:
            self._run.request_stop()

    def set_lr(self, lr: float) -> None:
        self.update_settings(lr=lr)

    def update_settings(self, **changes: Any) -> None:
        """Change lr, momentum, weight_decay, grad_clip or probe_sample_index of the running run
        (SettingsError at once for a bad value); applied at its next step, even while paused. A
        new probe sample brings a new "probe_input" and its feature maps / gates right away."""
        if self._run is not None:
            self._run.update_settings(**changes)

    def shutdown(self, timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
        """Stop the current run and wait for its process (for a new run, or closing the window).

        True when it ended by itself. A run whose current step takes longer than the timeout is
        killed: its last weights are then lost, as they would be to a crash.
        """
        run = self._run
        if run is None:
            return True
        run.request_stop()
        ended = run.wait(timeout_ms / 1000)
        if not ended:
            run.kill()
        self._deliver()  # the old run's last events (its Finished) before anything new
        self._release()
        return ended

    # ------------------------------------------------------------ state

    @property
    def is_running(self) -> bool:
        return self._run is not None

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def run_id(self) -> int:
        return self._run_id

    @property
    def process(self) -> TrainingProcess | None:
        """The running run's process (benchmarks read its pid)."""
        return self._run

    # ------------------------------------------------------------ delivery on the GUI thread

    def _deliver(self) -> None:
        run = self._run
        if run is None:
            return
        drained = run.drain()
        # A run start before its steps, the steps as one list, then the rest in order: each
        # signal fires at most once per tick except for rare epoch/settings/pause events.
        for event in drained.events:
            if isinstance(event, RunStarted):
                self.run_started.emit(event)
        if drained.steps:
            self.steps_received.emit(drained.steps)
        if run.ended:
            run.wait(STOP_TIMEOUT_MS / 1000)  # it is only exiting
            self._release()  # so that is_running is False when run_finished arrives
        for event in drained.events:
            if isinstance(event, EpochMetrics):
                self.epoch_finished.emit(event)
            elif isinstance(event, SettingsChanged):
                self.settings_changed.emit(event)
            elif isinstance(event, Paused):
                self._paused = event.paused
                self.paused_changed.emit(event.paused)
            elif isinstance(event, Finished):
                self.run_finished.emit(event)
            elif isinstance(event, Failed):
                self.run_failed.emit(event)
        for snapshot in drained.probes.values():
            self.probe_updated.emit(snapshot)

    def _release(self) -> None:
        if self._run is None:
            return
        self._timer.stop()
        self._run = None
        self._paused = False
        self.running_changed.emit(False)
