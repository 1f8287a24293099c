"""Autosave and crash recovery in the window.

``Autosave`` writes the document's unsaved work (the model, its weights, the training panel's
settings, its runs by reference) to this session's recovery folder (engine/recovery.py) every
``autosave_seconds()`` when something changed, and at each run's end; the folder goes when the
work is saved or discarded. ``offer_recovery`` runs once the window is shown at launch: work a
crashed LayerLab left behind is offered with Recover / Discard / Later.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMainWindow, QMessageBox

from engine.project import PROJECT_FILE, ProjectError
from engine.recovery import (
    RecoveryEntry,
    autosave_seconds,
    find_recoveries,
    read_recovered,
    remove_recovery,
    session_folder,
    set_aside,
    write_recovery,
)
from gui.editor.document import ModelDocument

RECOVER, DISCARD, LATER = "recover", "discard", "later"


class Autosave(QObject):
    """Keeps this window's unsaved work in its recovery folder while LayerLab runs.

    The window's thread only takes a snapshot (the spec is immutable, the weights a dict that a
    run's end or an import replaces whole); one short-lived writer thread writes it, so typing
    never waits for the disk (fsync and rename were 15-45 ms of each write). Writes and removals
    run in the order asked, so the folder always ends as the last request left it."""

    live_run_ended = Signal(Path)  # the run that was training ended (before the autosave)

    def __init__(
        self,
        window: QMainWindow,
        document: ModelDocument,
        training_settings: Callable[[], dict],
    ):
        super().__init__(window)
        self.window, self.document = window, document
        self.training_settings = training_settings
        self.folder = session_folder()
        self.live_run: Path | None = None
        self._last_key: tuple | None = None
        self._weights_seen = None  # the weights object of the last autosave, kept for its id
        self._followed = None
        self._writer = _Writer()
        self._timer = QTimer(self)
        self._timer.setInterval(int(autosave_seconds() * 1000))
        self._timer.timeout.connect(self.tick)
        self._timer.start()
        # Saved, or replaced by New / Open: nothing is left to recover.
        document.modified_changed.connect(self._modified_changed)

    @property
    def exists(self) -> bool:
        """Whether the recovery folder is on disk now (after ``wait`` for what was asked)."""
        return self.folder.exists()

    def follow(self, dashboard) -> None:
        """Follow the dashboard's runs: which one is live, and when it ends. The controller is
        made (importing torch) when Train is first pressed, so it is followed then."""
        dashboard.run_requested.connect(lambda: self._follow_controller(dashboard.controller))

    def _follow_controller(self, controller) -> None:
        if self._followed is controller:
            return
        self._followed = controller
        controller.run_started.connect(self._run_started)
        controller.run_finished.connect(self._run_ended)
        controller.run_failed.connect(self._run_ended)

    def _run_started(self, event) -> None:
        self.live_run = Path(event.run_folder) if event.run_folder else None
        self.tick()

    def _run_ended(self, _event) -> None:
        ended, self.live_run = self.live_run, None
        if ended is not None:
            self.live_run_ended.emit(ended)
        self.tick()

    def tick(self) -> bool:
        """Autosave if the work changed since the last autosave; True when a write was asked."""
        self._report_failure()
        if not self.window.isVisible():  # closed (saved or discarded) or not yet shown
            return False
        if not self.document.is_modified:
            self.discard()
            return False
        if self._key() == self._last_key:
            return False
        return self.write_now()

    def write_now(self, replaces: Path | None = None) -> bool:
        """Write the unsaved work now (on the writer thread); once it is written, the folder
        ``replaces`` (a recovered session's) is removed."""
        doc = self.document
        key, weights = self._key(), doc.weights
        work = {
            "spec": doc.spec,
            "original": doc.path,
            "training": self.training_settings(),
            "weights": weights,
            "runs": doc.unsaved_runs,
            "live_run": self.live_run,
        }
        self._last_key, self._weights_seen = key, weights
        self._writer.write(self.folder, work, replaces)
        return True

    def discard(self) -> None:
        """Remove this session's recovery folder: the work was saved or discarded."""
        if self._last_key is not None or self.folder.exists():
            self._writer.remove(self.folder)
        self._last_key, self._weights_seen = None, None

    def wait(self) -> None:
        """Block until every write and removal asked so far is done (tests, the last quit)."""
        self._writer.wait()

    @property
    def last_write_seconds(self) -> float:
        """How long the last write took on the writer thread."""
        return self._writer.last_write_seconds

    def _report_failure(self) -> None:
        message, self._writer.failure = self._writer.failure, None
        if message:
            self._last_key = None  # try again at the next tick
            self.window.statusBar().showMessage(message, 15000)

    def _modified_changed(self, modified: bool) -> None:
        if not modified:
            self.discard()

    def _key(self) -> tuple:
        doc = self.document
        settings = tuple(sorted(self.training_settings().items()))
        # The weights by identity: a run's end or an import replaces the whole dict.
        return (doc.spec, doc.path, id(doc.weights), doc.unsaved_runs, settings, self.live_run)


class _Writer:
    """One short-lived thread that runs writes and removals in the order asked, and ends when
    none is left (no thread lingers between autosaves). Plain Python, so a job still running
    when the window is deleted touches no Qt object."""

    def __init__(self) -> None:
        self._jobs: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_write_seconds = 0.0
        self.failure: str | None = None  # the last write's error, until the window shows it

    def write(self, folder: Path, work: dict, replaces: Path | None) -> None:
        def job() -> None:
            started = time.perf_counter()
            try:
                write_recovery(folder, **work)
            except ProjectError as err:
                self.failure = str(err)
                return
            self.last_write_seconds = time.perf_counter() - started
            if replaces is not None:
                remove_recovery(replaces)

        self._queue(job)

    def remove(self, folder: Path) -> None:
        self._queue(lambda: remove_recovery(folder))

    def wait(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _queue(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="layerlab-autosave")
                self._thread.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._thread = None
                    return
                job = self._jobs.popleft()
            job()


# ---------------------------------------------------------------- at launch


def ask_to_recover(window: QMainWindow, entry: RecoveryEntry) -> str:
    """Recover / Discard / Later, asked in a message box; returns RECOVER, DISCARD or LATER."""
    box = QMessageBox(window)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved work")
    box.setText(describe(entry))
    box.setInformativeText(
        "Recover opens it as unsaved work; Discard deletes it; Later asks again at the next launch."
    )
    buttons = {
        box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole): RECOVER,
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole): DISCARD,
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole): LATER,
    }
    box.exec()
    answer = buttons.get(box.clickedButton(), LATER)
    box.deleteLater()
    return answer


def describe(entry: RecoveryEntry) -> str:
    """The question for one recovery folder."""
    original = entry.original
    if original is not None and original.name == PROJECT_FILE:
        original = original.parent  # a project is known by its folder
    what = f" of '{original.name}'" if original else ""
    runs = len(entry.runs)
    listed = f", with {runs} run{'s' if runs != 1 else ''}" if runs else ""
    return (
        f"LayerLab quit unexpectedly. Recover the unsaved work{what}{listed} from {entry.when()}?"
    )


def offer_recovery(window, ask: Callable[[QMainWindow, RecoveryEntry], str] | None = None):
    """Offer the work crashed LayerLabs left, newest first, until one is recovered; the rest
    stay for a later launch. An unreadable folder is set aside with a sentence; the launch goes
    on. Returns the answers given, in order."""
    entries, bad = find_recoveries()
    for folder, problem in bad:
        kept = set_aside(folder)
        QMessageBox.information(
            window,
            "Unsaved work could not be recovered",
            f"{problem}\n\nThe folder was kept as '{kept}' and will not be offered again; "
            "delete it when you no longer need it.",
        )
    answers = []
    for entry in entries:
        answer = (ask or ask_to_recover)(window, entry)
        answers.append(answer)
        if answer == DISCARD:
            remove_recovery(entry.folder)
        elif answer == RECOVER and recover(window, entry):
            break
    return answers


def recover(window, entry: RecoveryEntry) -> bool:
    """Open the work in ``entry`` as an unsaved document of ``window``; its folder is removed
    once this session's own autosave holds the work."""
    if not window.files.confirm_discard():
        return False
    try:
        work = read_recovered(entry)
    except ProjectError as err:
        kept = set_aside(entry.folder)
        QMessageBox.information(
            window,
            "Unsaved work could not be recovered",
            f"{err}\n\nThe folder was kept as '{kept}'; delete it when you no longer need it.",
        )
        return False
    window.document.recovered(work.spec, work.original, work.weights, work.runs)
    if work.training and window.files.training is not None:
        window.files.training.panel.set_settings(work.training)
    weights = "with its trained weights" if work.weights else "without trained weights"
    window.statusBar().showMessage(
        f"Recovered the unsaved work from {entry.when()}, {weights}, and {len(work.runs)} "
        "run(s). Save it to keep it.",
        20000,
    )
    # The crashed session's folder goes once this session's own autosave holds the work.
    window.files.autosave.write_now(replaces=entry.folder)
    if work.problems:
        QMessageBox.information(
            window, "Parts of the work were not recovered", "\n\n".join(work.problems)
        )
    return True
