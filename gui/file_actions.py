"""File > New / New from example / Open / Open Recent / Save / Save As / Runs in this
Project, and asking before unsaved work is lost.

Open reads a project folder (or its project.json), a model file (.json, format v1) or a
LayerLab .safetensors export (the model with its weights). Save writes a project
(engine/project.py), or a model file when that is all there is to keep. Opening never changes
the current model unless the new file loaded completely; an error is one readable message box.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from engine.model.examples import Example, list_examples
from engine.model.spec import ModelSpec, SpecError
from engine.project import (
    PROJECT_FILE,
    PROJECT_SUFFIX,
    Project,
    ProjectError,
    bring_runs,
    list_runs,
    project_folder,
    read_project,
    read_safetensors_model,
    rebase_dataset,
    save_project,
)
from engine.runs.folder import RUN_FILE, RunFolderError
from gui.editor.document import ModelDocument
from gui.recovery import Autosave

MAX_RECENT = 8
_RECENT_KEY = "recent_files"
_OPEN_FILTER = (
    f"LayerLab files ({PROJECT_FILE} *.json *.safetensors);;Projects ({PROJECT_FILE});;"
    "Model files (*.json);;safetensors exports (*.safetensors);;All files (*)"
)
PROJECT_FILTER = f"LayerLab project (*{PROJECT_SUFFIX})"
MODEL_FILTER = "Model file only, no weights or runs (*.json)"
_SAVE_FILTER = f"{PROJECT_FILTER};;{MODEL_FILTER}"


class FileActions(QObject):
    def __init__(self, window: QMainWindow, document: ModelDocument, settings: QSettings):
        super().__init__(window)
        self.window, self.document, self.settings = window, document, settings
        self.new_action = self._action("&New", QKeySequence.StandardKey.New, self.new)
        self.open_action = self._action("&Open…", QKeySequence.StandardKey.Open, self.open)
        self.open_run_action = self._action("Open R&un…", "Ctrl+Shift+R", self.open_run)
        self.open_run_action.setToolTip("Show a run folder's curves and views; follow it live")
        self.stop_following_action = self._action("Stop &Following", "", self.stop_following)
        self.stop_following_action.setEnabled(False)
        self.save_action = self._action("&Save", QKeySequence.StandardKey.Save, self.save)
        self.save_as_action = self._action(
            "Save &As…", QKeySequence.StandardKey.SaveAs, self.save_as
        )
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, window.close)
        self.examples_menu = QMenu("New from &Example", window)
        for example in list_examples():
            action = self.examples_menu.addAction(example.title)
            action.setData(example.id)
            action.triggered.connect(lambda _=False, e=example: self.new_from_example(e))
        self.recent_menu = QMenu("Open &Recent", window)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        self.runs_menu = QMenu("R&uns in this Project", window)
        self.runs_menu.aboutToShow.connect(self._fill_runs_menu)
        self._fill_runs_menu()
        self.training = None  # the training dashboard, once the workbench attaches it
        # Unsaved work is autosaved for crash recovery (gui/recovery.py).
        self.autosave = Autosave(window, document, self._training_settings)
        self.autosave.live_run_ended.connect(self._live_run_ended)

    def attach_training(self, dashboard) -> None:
        """Let File ask about a live run and keep the panel's settings in projects."""
        self.training = dashboard
        self.autosave.follow(dashboard)
        dashboard.follower.following_changed.connect(self.stop_following_action.setEnabled)

    def _training_settings(self) -> dict:
        return self.training.panel.settings() if self.training is not None else {}

    def _action(self, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(shortcut)
        action.triggered.connect(lambda _=False: slot())
        return action

    def populate(self, menu: QMenu) -> None:
        menu.addAction(self.new_action)
        menu.addMenu(self.examples_menu)
        menu.addSeparator()
        menu.addAction(self.open_action)
        menu.addMenu(self.recent_menu)
        menu.addAction(self.open_run_action)
        menu.addAction(self.stop_following_action)
        menu.addSeparator()
        menu.addAction(self.save_action)
        menu.addAction(self.save_as_action)
        menu.addMenu(self.runs_menu)
        menu.addSeparator()
        menu.addAction(self.quit_action)

    # ------------------------------------------------------------ asking first

    def confirm_discard(self) -> bool:
        """True when the current work may be replaced or closed: a live run stopped (asked),
        and the model, its weights and its runs saved, discarded, or never changed (asked)."""
        if self.training is not None and self.training.is_training:
            answer = QMessageBox.question(
                self.window,
                "Training is running",
                "A model is training. Stop the run? (Cancel keeps it running.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Cancel:
                return False
            self.training.stop_training()  # its weights and run folder arrive before the question
        unsaved = self.document.unsaved_work()
        if not unsaved:
            return True
        answer = QMessageBox.question(
            self.window,
            "Unsaved work",
            f"“{self.document.display_name}” has {_listed(unsaved)} that would be lost. "
            "Save them first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        if answer == QMessageBox.StandardButton.Discard:
            self.autosave.discard()
            return True
        return False

    # ------------------------------------------------------------ new and open

    def new(self) -> bool:
        if not self.confirm_discard():
            return False
        self.document.new(ModelSpec())
        return True

    def new_from_example(self, example: Example) -> bool:
        if not self.confirm_discard():
            return False
        try:
            spec = example.load()
        except SpecError as err:
            self._error("Cannot open the example", str(err))
            return False
        self.document.new(spec)  # untitled: saving must not overwrite the bundled file
        return True

    def open(self) -> bool:
        start = str(self._base_folder() or "")
        path, _ = QFileDialog.getOpenFileName(self.window, "Open", start, _OPEN_FILTER)
        return self.open_path(path) if path else False

    def open_path(self, path: str | Path) -> bool:
        """Open a project, a model file or a LayerLab .safetensors export; on a bad file show
        why and keep the current model."""
        run = run_folder_of(path)
        if run is not None:  # shown in the views; the model stays
            return self.open_run_folder(run)
        if not self.confirm_discard():
            return False
        path = Path(path)
        try:
            if project_folder(path) is not None or path.is_dir():
                self._open_project(read_project(path))
                path = project_folder(path)
            elif path.suffix.lower() == ".safetensors":
                opened = read_safetensors_model(path)
                self.document.new(opened.spec, None, opened.weights)
                self._status(f"Opened the model and its weights from {path.name} (untitled).")
                return True
            else:
                self.document.open(path)
        except (SpecError, ProjectError) as err:
            self._error("Cannot open", str(err))
            return False
        self._remember(path.resolve())
        return True

    def _open_project(self, project: Project) -> None:
        self.document.new(project.spec, project.file.resolve(), project.weights)
        if self.training is not None and project.training:
            self.training.panel.set_settings(project.training)
        if self.training is not None and project.runs:  # runs are listed oldest first
            self._show_newest_run(project.runs[-1].path)  # the panel says which: the bar, below
        runs = ", ".join(f"{r.name} ({r.status})" for r in project.runs) or "none yet"
        self._status(f"Opened the project {project.folder.name}. Runs: {runs}.")
        if project.problems:
            self._notice("Parts of the project did not open", "\n\n".join(project.problems))

    # ------------------------------------------------------------ runs on disk

    def open_run(self) -> bool:
        start = str(self.document.runs_folder or self._base_folder() or "")
        path = QFileDialog.getExistingDirectory(self.window, "Open Run", start)
        return self.open_run_folder(path) if path else False

    def open_run_folder(self, path: str | Path) -> bool:
        """Show a run folder in the views, following it while it is written; on a folder that
        is not a readable run say why and leave the views as they were."""
        if self.training is None:
            return False
        try:
            self.training.show_run(path, follow=True)
        except RunFolderError as err:
            self._error("Cannot open the run", str(err))
            return False
        return True

    def stop_following(self) -> None:
        if self.training is not None:
            self.training.follower.stop()

    def _show_newest_run(self, path: Path) -> None:
        try:
            self.training.show_run(path, follow=True)  # followed only while still running
        except RunFolderError as err:
            self._status(str(err))

    # ------------------------------------------------------------ save

    def save(self) -> bool:
        doc = self.document
        if doc.project_folder is not None:
            return self._save_project(doc.project_folder)
        kept_elsewhere = len(doc.unsaved_work()) > int(doc.model_modified)
        if doc.path is None or kept_elsewhere:  # weights or runs need a project
            return self.save_as()
        return self._save_to(doc.path)

    def save_as(self) -> bool:
        doc = self.document
        base = self._base_folder() or Path.home()
        start = doc.project_folder or base / f"{doc.spec.name}{PROJECT_SUFFIX}"
        path, chosen = QFileDialog.getSaveFileName(
            self.window, "Save project as", str(start), _SAVE_FILTER
        )
        if not path:
            return False
        target = Path(path)
        if target.suffix.lower() == ".json" or (not target.suffix and chosen == MODEL_FILTER):
            return self._save_to(target.with_suffix(".json"))
        if target.suffix != PROJECT_SUFFIX:
            target = target.with_name(target.name + PROJECT_SUFFIX)
        if target.is_dir() and any(target.iterdir()) and project_folder(target) is None:
            self._error(
                "Cannot save the project",
                f"'{target}' is a folder that is not a LayerLab project; choose a new name.",
            )
            return False
        return self._save_project(target)

    def _save_project(self, folder: Path) -> bool:
        doc = self.document
        spec = rebase_dataset(doc.spec, self._base_folder(), folder)
        old = doc.project_folder
        copied = ()
        if old is not None and old.resolve() != folder.resolve():
            copied = tuple(r.path for r in list_runs(doc.runs_folder)[0])
        training = self._training_settings()
        try:
            file, problems = save_project(
                folder,
                spec,
                training=training,
                weights=doc.weights,
                move_runs=doc.unsaved_runs,
                copy_runs=copied,
            )
        except (ProjectError, SpecError) as err:
            self._error("Cannot save the project", str(err))
            return False
        doc.saved_as_project(file, spec, [r for r in doc.unsaved_runs if not r.exists()])
        self._remember(folder.resolve())
        if problems:
            self._notice("Some runs stayed where they were", "\n\n".join(problems))
        return True

    def _live_run_ended(self, run: Path) -> None:
        """A run that was still training when the project was saved has ended: move it in. If
        nothing else changed since, its final weights are saved too, so the work is clean, as
        Save would have left it."""
        doc = self.document
        folder = doc.project_folder
        if folder is None or run not in doc.unsaved_runs:
            return
        if not doc.model_modified:
            if self._save_project(folder):
                self._status(f"The run {run.name} ended and is now saved in the project.")
            return
        problems = bring_runs(folder, [run])
        doc.runs_brought_in([] if problems else [run])
        if problems:
            self._notice("A run stayed where it was", "\n\n".join(problems))
        else:
            self._status(f"The run {run.name} ended and was moved into the project.")

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.document.save(path)
        except SpecError as err:
            self._error("Cannot save the model", str(err))
            return False
        self._remember(saved)
        return True

    def _base_folder(self) -> Path | None:
        """The folder the open model's relative paths are read from."""
        return self.document.path.parent if self.document.path else None

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 15000)

    def _notice(self, title: str, message: str) -> None:
        QMessageBox.information(self.window, title, message)

    def _error(self, title: str, message: str) -> None:
        QMessageBox.critical(self.window, title, message)

    # ------------------------------------------------------------ recent files

    def recent_files(self) -> list[str]:
        value = self.settings.value(_RECENT_KEY, [], type=list)
        return [str(v) for v in value][:MAX_RECENT]

    def _remember(self, path: Path | None) -> None:
        if path is None:
            return
        entry = str(path)
        files = [entry, *(f for f in self.recent_files() if f != entry)][:MAX_RECENT]
        self.settings.setValue(_RECENT_KEY, files)
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for number, entry in enumerate(files, start=1):
            action = self.recent_menu.addAction(f"&{number} {Path(entry).name}")
            action.setToolTip(entry)
            action.setData(entry)
            action.triggered.connect(lambda _=False, p=entry: self.open_path(p))
        if not files:
            self.recent_menu.addAction("No recent files").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Files").triggered.connect(self._clear_recent)
        self.recent_menu.setEnabled(True)

    def _fill_runs_menu(self) -> None:
        """The open project's runs (and runs not yet in a project), newest last."""
        self.runs_menu.clear()
        runs, problems = (
            list_runs(self.document.runs_folder) if self.document.runs_folder else ((), [])
        )
        entries = [(r.path, f"{r.name} · {r.status}{_best(r.get('best'))}") for r in runs]
        entries += [(p, f"{p.name} · not in a project yet") for p in self.document.unsaved_runs]
        for path, text in entries:
            action = self.runs_menu.addAction(text)
            action.setToolTip(str(path))
            action.setData(str(path))
            action.triggered.connect(lambda _=False, p=path: self._status(f"Run folder: {p}"))
        for problem in problems:
            self.runs_menu.addAction(problem).setEnabled(False)
        if not entries and not problems:
            self.runs_menu.addAction("No runs yet").setEnabled(False)
        self.runs_menu.setEnabled(True)

    def run_entries(self) -> list[str]:
        """The texts Runs in this Project lists now (what a user reads in the menu)."""
        self._fill_runs_menu()
        return [a.text() for a in self.runs_menu.actions() if a.data()]

    def _clear_recent(self) -> None:
        self.settings.setValue(_RECENT_KEY, [])
        self._fill_recent_menu()


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _best(best) -> str:
    if not isinstance(best, dict) or best.get("value") is None:
        return ""
    value = best["value"]
    shown = f"{value:.1%}" if "accuracy" in str(best.get("metric")) else f"{value:.4g}"
    return f" · best {best.get('metric')} {shown}"


def run_folder_of(path: str | Path) -> Path | None:
    """The run folder ``path`` is (or whose run.json it is), not a project folder: Open shows
    it as a run. None for anything else."""
    path = Path(path)
    folder = path.parent if path.name == RUN_FILE else path
    if folder.is_dir() and (folder / RUN_FILE).is_file() and project_folder(folder) is None:
        return folder
    return None
