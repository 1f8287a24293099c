"""Autosave and crash recovery in the window.

``Autosave`` writes the document's unsaved work (the model, its weights, the training panel's
settings, its runs by reference) to this session's recovery folder (engine/recovery.py) every
``autosave_seconds()`` when something changed, and at each run's end; the folder goes when the
work is saved or discarded. ``offer_recovery`` runs once the window is shown at launch: work a
crashed LayerLab left behind is offered with Recover / Discard / Later.
"""

from __future__ import annotations

import time
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
    """Keeps this window's unsaved work in its recovery folder while LayerLab runs."""

    written = Signal()  # an autosave was written
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
        self.last_write_seconds = 0.0
        self._last_key: tuple | None = None
        self._weights_seen = None  # the weights object of the last autosave, kept for its id
        self._followed = None
        self._timer = QTimer(self)
        self._timer.setInterval(int(autosave_seconds() * 1000))
        self._timer.timeout.connect(self.tick)
        self._timer.start()
        # Saved, or replaced by New / Open: nothing is left to recover.
        document.modified_changed.connect(self._modified_changed)

    @property
    def exists(self) -> bool:
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
        """Autosave if the work changed since the last autosave; True when it wrote."""
        if not self.window.isVisible():  # closed (saved or discarded) or not yet shown
            return False
        if not self.document.is_modified:
            self.discard()
            return False
        if self._key() == self._last_key:
            return False
        return self.write_now()

    def write_now(self) -> bool:
        """Write the unsaved work now; a failure is a status-bar sentence, never an error box
        in the middle of typing."""
        doc = self.document
        key, weights = self._key(), doc.weights
        started = time.perf_counter()
        try:
            write_recovery(
                self.folder,
                doc.spec,
                original=doc.path,
                training=self.training_settings(),
                weights=weights,
                runs=doc.unsaved_runs,
                live_run=self.live_run,
            )
        except ProjectError as err:
            self.window.statusBar().showMessage(str(err), 15000)
            return False
        self.last_write_seconds = time.perf_counter() - started
        self._last_key, self._weights_seen = key, weights
        self.written.emit()
        return True

    def discard(self) -> None:
        """Remove this session's recovery folder: the work was saved or discarded."""
        if self.folder.exists():
            remove_recovery(self.folder)
        self._last_key, self._weights_seen = None, None

    def _modified_changed(self, modified: bool) -> None:
        if not modified:
            self.discard()

    def _key(self) -> tuple:
        doc = self.document
        settings = tuple(sorted(self.training_settings().items()))
        # The weights by identity: a run's end or an import replaces the whole dict.
        return (doc.spec, doc.path, id(doc.weights), doc.unsaved_runs, settings, self.live_run)


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


def offer_recovery(window, ask: Callable[[QMainWindow, RecoveryEntry], str] = ask_to_recover):
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
        answer = ask(window, entry)
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
    if window.files.autosave.write_now():
        remove_recovery(entry.folder)
    if work.problems:
        QMessageBox.information(
            window, "Parts of the work were not recovered", "\n\n".join(work.problems)
        )
    return True
