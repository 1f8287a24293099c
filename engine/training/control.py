"""Run control: Pause, Resume, Stop and live setting changes for a run in progress.

Any thread may ask (in the training process, the relay thread does, as the window's messages
arrive); asking only sets flags under a lock. The training loop reads one flag per step,
``attention``, and only when it is set takes the lock and applies what is pending.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from engine.data import Dataset
from engine.training.settings import (
    SettingsError,
    TrainSettings,
    check_live_changes,
    sample_index_problem,
)

_NO_CHANGE = object()  # no pending probe sample change (None is no valid index either)


class RunControl:
    """The flags and pending changes of one run, shared by the threads that ask and the loop."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())  # reentrant: hooks may call request_*
        self.attention = False  # anything pending; read without the lock once per step
        self._pause_requested = self._paused = self._stop = False
        self._pending: dict[str, Any] = {}
        self.paused_seconds = 0.0  # time spent paused so far (not counted in samples/s)

    def request_pause(self) -> None:
        with self._cond:
            self._pause_requested = self.attention = True

    def request_resume(self) -> None:
        with self._cond:
            self._pause_requested = False
            self.attention = True
            self._cond.notify_all()

    def request_stop(self) -> None:
        with self._cond:
            self._stop = self.attention = True
            self._cond.notify_all()

    def queue_changes(self, changes: dict[str, Any]) -> None:
        """Apply already checked ``changes`` at the next step (also while paused)."""
        with self._cond:
            self._pending.update(changes)
            self.attention = True
            self._cond.notify_all()

    @property
    def is_paused(self) -> bool:
        return self._paused

    def between_steps(
        self,
        apply_changes: Callable[[dict[str, Any]], None],
        switch_sample: Callable[[int], None],
        paused_changed: Callable[[bool], None],
    ) -> bool:
        """Apply pending changes, and wait while paused; True when the run should stop.

        ``apply_changes(changes)`` and ``paused_changed(paused)`` are called under the lock;
        ``switch_sample(index)`` outside it, because the probes it runs take a moment and
        a Pause or a change asked for meanwhile must not wait for them."""
        while True:
            with self._cond:
                sample = self._pending.pop("probe_sample_index", _NO_CHANGE)
                if self._pending:
                    apply_changes(self._pending)
                    self._pending = {}
                if sample is _NO_CHANGE:
                    if self._stop:
                        return True
                    if self._pause_requested and not self._paused:
                        self._paused, paused_at = True, time.perf_counter()
                        paused_changed(True)
                    if not self._pause_requested:
                        if self._paused:
                            self._paused = False
                            self.paused_seconds += time.perf_counter() - paused_at
                            paused_changed(False)
                        self.attention = False
                        return False
                    self._cond.wait()
                    continue
                if self._stop:
                    return True
            # Then look at the flags again (also when paused, so that a sample picked during a
            # pause shows at once).
            switch_sample(sample)


def check_settings_changes(
    settings: TrainSettings, dataset: Dataset | str, changes: dict[str, Any]
) -> dict[str, Any]:
    """The live changes of :meth:`Trainer.update_settings`, checked and normalised; raises
    SettingsError for a bad value. A probe sample index is checked against ``dataset`` when it
    is loaded (a name or path is checked when the run applies the change)."""
    changes = dict(changes)
    sample = changes.pop("probe_sample_index", _NO_CHANGE)
    clean = check_live_changes(settings.optimizer, changes)
    if sample is not _NO_CHANGE:
        if isinstance(dataset, Dataset):
            problem = sample_index_problem(sample, *_probe_split(dataset, settings.val_batch_size))
        else:
            problem = sample_index_problem(sample, None)
        if problem:
            raise SettingsError(problem)
        clean["probe_sample_index"] = int(sample)
    return clean


def _probe_split(ds: Dataset, val_batch_size: int) -> tuple[int, str]:
    """How many samples the probe sample index ranges over, and from which split (the probes
    use the validation set, or the first val_batch_size training samples when there is none)."""
    if len(ds.x_val):
        return len(ds.x_val), "validation"
    return min(len(ds.x_train), val_batch_size), "training"
