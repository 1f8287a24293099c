"""File > New / New from example / Open / Open Recent / Save / Save As, and asking before
unsaved changes are lost.

Opening never changes the current model unless the new file loaded completely: the document
raises SpecError first, and the error is shown as one readable message box.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from engine.model.examples import Example, list_examples
from engine.model.spec import ModelSpec, SpecError
from gui.editor.document import ModelDocument

MAX_RECENT = 8
_RECENT_KEY = "recent_files"
_FILTER = "LayerLab models (*.json);;All files (*)"


class FileActions(QObject):
    def __init__(self, window: QMainWindow, document: ModelDocument, settings: QSettings):
        super().__init__(window)
        self.window, self.document, self.settings = window, document, settings
        self.new_action = self._action("&New", QKeySequence.StandardKey.New, self.new)
        self.open_action = self._action("&Open…", QKeySequence.StandardKey.Open, self.open)
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
        menu.addSeparator()
        menu.addAction(self.save_action)
        menu.addAction(self.save_as_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)

    # ------------------------------------------------------------ asking first

    def confirm_discard(self) -> bool:
        """True when the current model may be replaced: saved, discarded, or never changed."""
        if not self.document.is_modified:
            return True
        answer = QMessageBox.question(
            self.window,
            "Unsaved changes",
            f"“{self.document.display_name}” has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

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
        start = str(self.document.path.parent) if self.document.path else ""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open model", start, _FILTER)
        return self.open_path(path) if path else False

    def open_path(self, path: str | Path) -> bool:
        """Open a model file; on a bad file show why and keep the current model."""
        if not self.confirm_discard():
            return False
        try:
            self.document.open(path)
        except SpecError as err:
            self._error("Cannot open the model", str(err))
            return False
        self._remember(self.document.path)
        return True

    # ------------------------------------------------------------ save

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        start = str(self.document.path or Path.home() / f"{self.document.spec.name}.json")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save model as", start, _FILTER)
        if not path:
            return False
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(".json")
        return self._save_to(target)

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.document.save(path)
        except SpecError as err:
            self._error("Cannot save the model", str(err))
            return False
        self._remember(saved)
        return True

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

    def _clear_recent(self) -> None:
        self.settings.setValue(_RECENT_KEY, [])
        self._fill_recent_menu()
