"""TrainingController: what the main window and the dashboard use to run training.

One controller lives as long as the window; each ``start`` makes a new Trainer, worker and
QThread. Its signals are emitted on the GUI thread at most ``UPDATE_HZ`` times a second each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal

from engine.events import EpochMetrics, Failed, Finished, Paused, RunStarted, SettingsChanged
from engine.spec import ModelSpec
from gui.training.worker import UPDATE_HZ, EventBuffer, TrainingWorker, gui_settings

if TYPE_CHECKING:  # torch is imported on the first start(), not when the window opens
    from engine.data import Dataset
    from engine.train import Trainer, TrainSettings

STOP_TIMEOUT_MS = 2000


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
        self._trainer: Trainer | None = None
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._buffer = EventBuffer()
        self._stragglers: list[tuple[QThread, TrainingWorker]] = []  # stopped but still ending
        self._paused = False

    # ------------------------------------------------------------ commands

    def start(
        self,
        spec: ModelSpec,
        dataset: Dataset | str,
        settings: TrainSettings | None = None,
        *,
        dataset_options: dict[str, Any] | None = None,
    ) -> int:
        """Stop any run in progress, then train ``spec`` on ``dataset`` (loaded in the worker
        thread when it is a name or path). Returns the new run's id."""
        from engine.train import Trainer

        self.shutdown()
        self._run_id += 1
        self._buffer = EventBuffer()
        self._trainer = Trainer(
            spec,
            dataset,
            gui_settings(settings),
            [self._buffer],
            run_id=self._run_id,
            dataset_options=dataset_options,
        )
        thread = QThread()
        thread.setObjectName(f"layerlab-training-{self._run_id}")
        worker = TrainingWorker(self._trainer, self._buffer)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Direct: quit() is thread-safe, and a queued call would wait for the GUI thread, which
        # may itself be blocked in shutdown()'s wait() — a deadlock until the timeout.
        worker.run_ended.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(worker.deleteLater)
        thread.finished.connect(self._thread_finished)
        self._thread, self._worker, self._paused = thread, worker, False
        thread.start()
        self._timer.start()
        self.running_changed.emit(True)
        return self._run_id

    def pause(self) -> None:
        if self._trainer is not None:
            self._trainer.request_pause()

    def resume(self) -> None:
        if self._trainer is not None:
            self._trainer.request_resume()

    def stop(self) -> None:
        """Ask the run to stop after its current step; returns at once (run_finished follows)."""
        if self._trainer is not None:
            self._trainer.request_stop()

    def set_lr(self, lr: float) -> None:
        self.update_settings(lr=lr)

    def update_settings(self, **changes: Any) -> None:
        """Change lr, momentum, weight_decay, grad_clip or probe_sample_index of the running run
        (SettingsError at once for a bad value); applied at its next step, even while paused. A
        new probe sample brings a new "probe_input" and its feature maps / gates right away."""
        if self._trainer is not None:
            self._trainer.update_settings(**changes)

    def shutdown(self, timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
        """Stop the current run and wait for its thread (for a new run, or closing the window).

        True when the thread has ended. A step longer than the timeout keeps its thread alive
        in ``_stragglers`` until it ends, so Qt never destroys a running thread.
        """
        thread = self._thread
        if thread is None:
            return True
        self.stop()
        ended = thread.wait(timeout_ms)
        if not ended:
            self._stragglers.append((thread, self._worker))
            thread.finished.connect(lambda t=thread: self._forget_straggler(t))
        self._deliver()  # the old run's last events (its Finished) before anything new
        self._release()
        return ended

    # ------------------------------------------------------------ state

    @property
    def is_running(self) -> bool:
        return self._thread is not None

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def run_id(self) -> int:
        return self._run_id

    # ------------------------------------------------------------ delivery on the GUI thread

    def _deliver(self) -> None:
        drained = self._buffer.drain()
        # A run start before its steps, the steps as one list, then the rest in order: each
        # signal fires at most once per tick except for rare epoch/settings/pause events.
        for event in drained.events:
            if isinstance(event, RunStarted):
                self.run_started.emit(event)
        if drained.steps:
            self.steps_received.emit(drained.steps)
        if any(isinstance(e, (Finished, Failed)) for e in drained.events):
            self._end_thread()  # so that is_running is False when run_finished arrives
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

    def _thread_finished(self) -> None:
        if self._thread is not None and self.sender() is self._thread:
            self._deliver()
            self._release()

    def _end_thread(self) -> None:
        # The Trainer has returned; its thread is only unwinding, so this wait is short.
        if self._thread is not None and self._thread.wait(STOP_TIMEOUT_MS):
            self._release()

    def _release(self) -> None:
        if self._thread is None:
            return
        self._timer.stop()
        self._thread = self._worker = self._trainer = None
        self._paused = False
        self.running_changed.emit(False)

    def _forget_straggler(self, thread: QThread) -> None:
        thread.wait()
        self._stragglers = [(t, w) for t, w in self._stragglers if t is not thread]
