"""The main window: the model canvas in the middle, palette, inspector and problems as docks,
menus, the Train action and the status bar. Every part redraws from the one ModelDocument.

Other panels (datasets, training views) join through ``add_dock``. ``readiness`` is the one
rule for Train: ``train_action`` (menu and toolbar) is enabled only while the model is valid and
fits the loaded dataset, with the reason in its tooltip when it is not.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QToolBar,
    QWidget,
)

from gui.editor.canvas import BlockPalette, ModelScene, ModelView
from gui.editor.document import ModelDocument
from gui.editor.inspector import InspectorPanel
from gui.editor.problems import ProblemsPanel
from gui.editor.readiness import TrainReadiness
from gui.file_actions import FileActions
from gui.status_bar import MessageStatusBar
from gui.workspaces import Workspaces

_STYLE_SHEET = Path(__file__).resolve().parent.parent / "resources" / "style.qss"
# Guesses for a window manager's title bar and border, used until the real frame is known.
_TITLE_GUESS, _FRAME_GUESS = 32, 4
# The size a window opens at on a large screen; a smaller screen gets its available area.
DEFAULT_SIZE = (1440, 900)
# The Build workspace's left column: wide enough for its four tabs' names in full (Blocks,
# Dataset, Training, Runs), no wider, so the canvas keeps the rest. On a screen narrower than
# NARROW_SCREEN the canvas needs the room more: the column is as narrow as its panels allow.
LEFT_WIDTH = 300
NARROW_LEFT_WIDTH = 230
NARROW_SCREEN = 1200


class MainWindow(QMainWindow):
    # View › Reset Layout put the docks back; panels re-apply the sizes they set at first show.
    layout_reset = Signal()

    def __init__(
        self,
        document: ModelDocument,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.document = document
        self.settings = settings or QSettings("LayerLab", "LayerLab")
        self.setObjectName("LayerLabMainWindow")
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )
        if _STYLE_SHEET.exists():
            self.setStyleSheet(_STYLE_SHEET.read_text(encoding="utf-8"))

        self.scene = ModelScene(document, self)
        self.view = ModelView(self.scene, self)
        self.setCentralWidget(self.view)
        self.palette = BlockPalette()
        self.inspector = InspectorPanel(document)
        self.readiness = TrainReadiness(document, self)
        self.problems = ProblemsPanel(document, self.readiness)
        self.files = FileActions(self, document, self.settings)
        self.workspaces = Workspaces(self, self.settings)
        # Docks that only the Train workspace shows (the views, the model strip): other parts
        # add theirs. Build's default hides them; Train's default hides the editor's docks.
        self.hidden_in_build: set[QDockWidget] = set()
        self.workspaces.arrangers["build"].append(self._arrange_build)
        self.workspaces.arrangers["train"].append(self._arrange_train)

        self._dock_toggles_end: QAction | None = None
        self._run_live = False  # set_run_live
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.palette_dock = self.add_dock(
            "Blocks", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.inspector_dock = self.add_dock(
            "Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.problems_dock = self.add_dock(
            "Problems", self.problems, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.resizeDocks(
            [self.palette_dock, self.inspector_dock],
            [_left_width(self), 330],
            Qt.Orientation.Horizontal,
        )
        self.resizeDocks(
            [self.inspector_dock, self.problems_dock], [520, 200], Qt.Orientation.Vertical
        )
        self._build_status_bar()
        self.view.context_actions = [self.duplicate_action, self.delete_action]

        self.palette.block_activated.connect(self._append_block)
        self.problems.block_requested.connect(self._show_block)
        self.readiness.changed.connect(self._model_changed)
        document.selection_changed.connect(self._selection_changed)
        document.path_changed.connect(self._update_title)
        document.modified_changed.connect(self.setWindowModified)
        document.path_changed.connect(lambda: self.view.fit_to_model())

        self._default_state = None
        self._restored = False
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        self.fit_to_screen()
        self._update_title()
        self._model_changed()
        self._selection_changed()

    # ------------------------------------------------------------ public API for other panels

    def add_dock(
        self, title: str, widget: QWidget, area=Qt.DockWidgetArea.RightDockWidgetArea
    ) -> QDockWidget:
        """Add a panel as a dock with a View-menu toggle; its layout is remembered by title."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")  # saveState keys on this
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        toggle = dock.toggleViewAction()
        toggle.setText(title)
        self.view_menu.insertAction(self._dock_toggles_end, toggle)
        return dock

    def fit_to_screen(self) -> None:
        """Shrink and move the window, frame included, into its screen's available area (a size
        remembered on a larger screen, or the default on a laptop, would hang off it)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        frame = self.frameGeometry()
        # Before the first show the frame is unknown (it equals the geometry); the title bar and
        # borders are then allowed for with a typical margin, and measured after showing.
        extra_w = frame.width() - self.width() or 2 * _FRAME_GUESS
        extra_h = frame.height() - self.height() or _TITLE_GUESS + _FRAME_GUESS
        width = min(self.width(), area.width() - extra_w)
        height = min(self.height(), area.height() - extra_h)
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        frame = self.frameGeometry()
        x = min(max(frame.x(), area.x()), area.right() + 1 - frame.width())
        y = min(max(frame.y(), area.y()), area.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def prepare_screenshot(self, workspace: str = "build") -> None:
        """Called by `main.py --screenshot`: ``workspace`` shown, nothing selected, whole model
        in view. (Its layout is the default one: screenshots read no remembered settings.)"""
        self.workspaces.show(workspace)
        self.document.set_selection(())
        self.view.fit_to_model()

    # ------------------------------------------------------------ actions and menus

    def _build_actions(self) -> None:
        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.delete_action = self._action("&Delete", self._delete_selection, "Delete", "Backspace")
        self.duplicate_action = self._action("D&uplicate", self._duplicate_selection, "Ctrl+D")
        self.select_all_action = self._action("Select &All", self._select_all, "Ctrl+A")
        self.zoom_in_action = self._action(
            "Zoom &In", lambda: self.view.zoom_by(1), "Ctrl++", "Ctrl+="
        )
        self.zoom_out_action = self._action("Zoom &Out", lambda: self.view.zoom_by(-1), "Ctrl+-")
        self.fit_action = self._action("&Fit Model", self.view.fit_to_model, "Ctrl+0")
        self.reset_layout_action = self._action("&Reset Layout", self.reset_layout)
        self.train_action = self._action("&Train", lambda: None, "Ctrl+T")
        # Pause and Stop beside Train in the toolbar and the Train menu (the training panel's
        # buttons too): with the left column hidden (View › Views Only) they stay reachable.
        # Disabled until a run is live; the training dashboard wires them.
        self.pause_action = self._action("&Pause", lambda: None, "Ctrl+Shift+P")
        self.stop_action = self._action("&Stop", lambda: None, "Ctrl+.")
        for action in (self.pause_action, self.stop_action):
            action.setEnabled(False)

    def _action(self, text: str, slot, *shortcuts: str) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)  # shortcuts work while the menu bar is hidden, too
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.files.populate(self.file_menu)
        self.edit_menu = bar.addMenu("&Edit")
        for action in (
            self.undo_action,
            self.redo_action,
            None,
            self.delete_action,
            self.duplicate_action,
            self.select_all_action,
        ):
            self.edit_menu.addAction(action) if action else self.edit_menu.addSeparator()
        self.view_menu: QMenu = bar.addMenu("&View")
        for action in self.workspaces.actions.values():
            self.view_menu.addAction(action)
        self.view_menu.addAction(self.workspaces.switch_on_train_action)
        self.view_menu.addSeparator()
        for action in (self.zoom_in_action, self.zoom_out_action, self.fit_action):
            self.view_menu.addAction(action)
        self.view_menu.addSeparator()
        # Dock toggles go above this separator, in the order the docks were added.
        self._dock_toggles_end = self.view_menu.addSeparator()
        self.view_menu.addAction(self.reset_layout_action)
        self.train_menu = bar.addMenu("&Train")
        for action in (self.train_action, self.pause_action, self.stop_action):
            self.train_menu.addAction(action)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (
            self.files.new_action,
            self.files.open_action,
            self.files.save_action,
            None,
            self.undo_action,
            self.redo_action,
            None,
            self.fit_action,
            None,
            self.train_action,
            self.pause_action,
            self.stop_action,
        ):
            toolbar.addAction(action) if action else toolbar.addSeparator()
        # "Build | Train" at the far end, apart from the Train action that starts a run.
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        toolbar.addWidget(QLabel("Workspace: "))
        for action in self.workspaces.actions.values():
            toolbar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _build_status_bar(self) -> None:
        self.setStatusBar(MessageStatusBar(self))
        self.params_label = QLabel()
        self.validity_label = QLabel()
        self.validity_label.setObjectName("validityLabel")
        self.statusBar().addPermanentWidget(self.validity_label)
        self.statusBar().addPermanentWidget(self.params_label)

    # ------------------------------------------------------------ following the document

    def set_run_live(self, live: bool) -> None:
        """A run is training or paused (the dashboard says): Train waits for its end, as the
        training panel's button does."""
        if live != self._run_live:
            self._run_live = live
            self._model_changed()

    def _model_changed(self) -> None:
        inference = self.document.inference
        self.params_label.setText(f"Parameters: {inference.total_params:,}")
        reason = self.readiness.reason()
        if reason is None:
            shape = "×".join(map(str, inference.output_shape or ()))
            fits = f" · fits '{self.readiness.dataset.name}'" if self.readiness.dataset else ""
            self.validity_label.setText(f"✓ Valid model · output {shape}{fits}")
            self.train_action.setToolTip("Train this model")
        else:
            # The permanent label stays short; the whole sentence is its tooltip.
            self.validity_label.setText(f"✗ {_first_words(reason)}")
            self.train_action.setToolTip(f"Cannot train: {reason}")
        self.validity_label.setProperty("valid", reason is None)
        self.train_action.setEnabled(reason is None and not self._run_live)
        self.validity_label.setToolTip(reason or "")
        # Re-polish so the style sheet sees the new "valid" property (green or red).
        self.validity_label.style().unpolish(self.validity_label)
        self.validity_label.style().polish(self.validity_label)
        self._selection_changed()

    def _selection_changed(self) -> None:
        has_blocks = bool(self.document.selected_paths())
        self.delete_action.setEnabled(has_blocks)
        self.duplicate_action.setEnabled(has_blocks)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.display_name}[*] — LayerLab")
        self.setWindowModified(self.document.is_modified)

    # ------------------------------------------------------------ edits

    def _delete_selection(self) -> None:
        self.document.remove_blocks(self.document.selected_paths())  # inner blocks too

    def _duplicate_selection(self) -> None:
        new_ids = self.document.duplicate_blocks(self.document.selected_indices())
        if new_ids:
            self.document.set_selection(new_ids)

    def _select_all(self) -> None:
        self.document.set_selection([b.id for b in self.document.spec.blocks])

    def _append_block(self, type_id: str) -> None:
        block_id = self.document.insert_block(len(self.document.spec.blocks), type_id)
        self.document.set_selection([block_id])
        self.view.ensureVisible(self.scene.card(block_id))

    def _show_block(self, block_id: str) -> None:
        self.document.set_selection([block_id])
        self.view.centerOn(self.scene.card(block_id))

    # ------------------------------------------------------------ layout memory and closing

    def reset_layout(self) -> None:
        """View › Reset Layout: the shown workspace as it first was; the other keeps its own."""
        self.workspaces.arrange_default()
        self.layout_reset.emit()

    def _arrange_build(self) -> None:
        # The arrangement kept at first show, every editor dock shown and the views hidden.
        if self._default_state is not None:
            self.restoreState(self._default_state)
        for dock in self.findChildren(QDockWidget):
            dock.setVisible(dock not in self.hidden_in_build)
        self.palette_dock.raise_()

    def _arrange_train(self) -> None:
        # From Build's default, less the editor's docks: without the canvas, the palette, the
        # Inspector and Problems have nothing to act on. The views' part arranges the rest.
        self._arrange_build()
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock):
            dock.hide()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._restored:
            # Restored at first show, not in __init__, so docks other panels add after
            # construction get their remembered place too.
            self._restored = True
            self.fit_to_screen()  # now with the window manager's real frame
            self._default_state = self.saveState()
            self.workspaces.restore_remembered()
            self.view.fit_to_model()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.files.confirm_discard():
            event.ignore()
            return
        # An offscreen window (screenshots, tests) has no real geometry worth remembering.
        if QGuiApplication.platformName() != "offscreen":
            self.settings.setValue("window/geometry", self.saveGeometry())
        self.workspaces.save()
        event.accept()


def _first_words(sentence: str, limit: int = 70) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _left_width(window: QMainWindow) -> int:
    screen = window.screen() or QGuiApplication.primaryScreen()
    wide = screen is None or screen.availableGeometry().width() >= NARROW_SCREEN
    return LEFT_WIDTH if wide else NARROW_LEFT_WIDTH
