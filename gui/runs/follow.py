"""Showing a recorded run in the training views, and following it while it is written.

File › Open Run, a run folder passed to Open, and a project's newest run on opening come here.
A RunFollower reads the folder with engine/runs/follow.py's RunReader and feeds what it finds
into the same views a live run feeds (the curves' add_steps/add_epoch, the probe router), so a
run on disk looks as it did live. While the run's status is "running" a timer polls the folder
about twice a second; the views repaint on their own paced timer.

No torch: following needs only the run folder's JSON and npz files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine.runs.folder import RunInfo
from engine.runs.follow import RunReader, RunUpdate, epoch_event, settings_event, step_event
from engine.training.events import ProbeSnapshot, RunStarted
from gui.runs.compare import dataset_title
from gui.training.views.series import peak_downsample

POLL_MS = 500  # the views then show what was written within about a second
# A run longer than this is thinned on opening (each series keeps its peaks, as the Runs panel
# draws it); what arrives while following is added whole.
MAX_STEPS_SHOWN = 4000
FIRST_RUN_ID = 1_000_000  # followed runs' ids in the curves, apart from the window's own runs


class RunFollower(QObject):
    """Shows one run folder at a time in a TrainingDashboard's views; follows it while it runs."""

    following_changed = Signal(bool)
    status_changed = Signal(str)

    def __init__(self, dashboard, parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else dashboard)
        self.dashboard = dashboard
        self.reader: RunReader | None = None
        self.status_text = ""
        self.samples_per_second: float | None = None  # the newest step's, for the status
        self.problems: list[str] = []  # every problem met while reading the shown run
        self.polls = 0  # polls of the shown run, the first read included
        self._run_id = FIRST_RUN_ID
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    @property
    def folder(self) -> Path | None:
        """The run folder shown, or None."""
        return self.reader.folder if self.reader is not None else None

    @property
    def following(self) -> bool:
        return self._timer.isActive()

    def show_run(self, folder: str | os.PathLike, follow: bool = True) -> None:
        """Show the run in ``folder``: its curves and its newest probe snapshots, followed while
        it is written when ``follow``. RunFolderError (a sentence naming the file) when it is
        not a readable run; the views are then left as they were."""
        reader = RunReader(folder)
        update = reader.poll()
        self.stop()
        self.reader, self.problems, self.polls = reader, [], 1
        self.samples_per_second = None
        self._run_id += 1
        info = update.info
        self.dashboard.show_recorded_run(self._started(info), _label(info))
        if follow and reader.running:
            self._timer.start()
            self.following_changed.emit(True)
        self._apply(update, thin=True)

    def poll(self) -> None:
        """Add what the run folder gained since the last poll; stop once the run is over."""
        if self.reader is None:
            return
        self.polls += 1
        update = self.reader.poll()  # after the first read it reports, never raises
        if update.restarted:  # a resume cut the metrics short: draw the run again from them
            self.dashboard.show_recorded_run(
                self._started(self.reader.info), _label(self.reader.info)
            )
        self._apply(update, thin=update.restarted)
        if not self.reader.running:
            self.stop()

    def stop(self) -> None:
        """Stop following (the views keep what they show)."""
        if self._timer.isActive():
            self._timer.stop()
            self.following_changed.emit(False)
            if self.reader is not None:
                self._say(self.reader.info)

    # ------------------------------------------------------------ into the views

    def _apply(self, update: RunUpdate, thin: bool) -> None:
        curves, run_id = self.dashboard.curves, self._run_id
        records = update.steps
        if thin and len(records) > MAX_STEPS_SHOWN:
            records = _thinned(records)
        steps = [e for e in (step_event(run_id, r) for r in records) if e is not None]
        if steps:
            self.samples_per_second = steps[-1].samples_per_second
        # Markers go between the steps they came between: the curves draw a settings change
        # at its step, whatever order they arrive in, so steps first, then the rest.
        curves.add_steps(steps)
        for record in update.epochs:
            event = epoch_event(run_id, record)
            if event is not None:
                curves.add_epoch(event)
        for record in update.markers:
            event = settings_event(run_id, record)
            if event is not None:
                curves.add_settings_change(event)
        for kind, (step, data, error) in update.probes.items():
            try:
                self.dashboard.router.route(ProbeSnapshot(run_id, step, kind, data, error))
            except (TypeError, ValueError, AttributeError, KeyError, IndexError) as err:
                # A file of the right format holding what its view cannot take: said, skipped.
                update.problems.append(
                    f"The saved {kind} snapshot in '{self.reader.folder}' cannot be shown "
                    f"({err}); skipped."
                )
        if update.probes:  # a run of another model: its views may be closed for this one
            self.dashboard.dock_layout.reveal_filled()
        if update.info is not None or update.problems:
            self.problems += update.problems
            self._say(self.reader.info, update.problems)

    def _started(self, info: RunInfo) -> RunStarted:
        return RunStarted(
            self._run_id, str(info.get("model_name") or info.name), dataset_title(info),
            str(info.get("device") or ""), (None if info.get("total_epochs") is None else _int(info.get("total_epochs"))),
            _int(info.get("steps_per_epoch")), dict(_dict(info.get("settings"))),
            run_folder=str(info.path),
        )  # fmt: skip

    def _say(self, info: RunInfo | None, problems: list[str] = ()) -> None:
        if info is None:
            return
        self.status_text = status_text(info, self.following, self.samples_per_second)
        if problems:
            self.status_text += " " + " ".join(problems[:2])
        self.dashboard.show_message(self.status_text, error=bool(problems))
        self.status_changed.emit(self.status_text)


def status_text(info: RunInfo, following: bool, samples_per_second: float | None = None) -> str:
    """Which run is shown, by whom it is written and how far it got: "Following mlp-2026… —
    written by pid 1234 on host (2 processes), epoch 3/10, 5,120 samples/s"."""
    total = info.get("total_epochs")
    epochs = f"epoch {_int(info.get('epochs_done'))}" + (
        f"/{_int(total)}" if total is not None else " (until stopped)"
    )
    if following and info.status == "running":
        who = f"pid {info.get('pid')} on {info.get('host')}"
        processes = _int(info.get("processes")) or 1  # a distributed run's, from rank 0
        who += f" ({processes} processes)" if processes > 1 else ""
        rate = f", {samples_per_second:,.0f} samples/s" if samples_per_second else ""
        return f"Following {info.name} — written by {who}, {epochs}{rate}."
    why = f": {info.get('message')}" if info.status == "failed" and info.get("message") else ""
    return f"Showing {info.name} — {info.status}{why}, {epochs}."


def _thinned(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most ~2×MAX_STEPS_SHOWN step records that keep the loss's and the accuracy's peaks
    and the run's first and last step."""
    index = np.arange(len(records))
    keep = {0, len(records) - 1}
    for key in ("loss", "accuracy"):
        values = np.array([_float(r.get(key)) for r in records])
        if np.isfinite(values).any():
            keep.update(peak_downsample(index, values, MAX_STEPS_SHOWN)[0].astype(int).tolist())
    return [records[i] for i in sorted(keep)]


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else np.nan


def _label(info: RunInfo) -> str:
    return f"{info.name} · {dataset_title(info) or 'run on disk'}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}
