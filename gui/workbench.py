"""Assemble the whole application window: the model editor plus the dataset panel, the
training dashboard and the export/import actions, wired to one ModelDocument.

MainWindow knows only the editor; each other part joins through ``add_dock`` and the menus, so
tests can build the editor alone or the whole workbench.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QScrollArea

from gui.dataset.panel import DatasetPanel
from gui.dataset.session import WindowDatasetSession
from gui.editor.document import ModelDocument
from gui.main_window import MainWindow
from gui.runs.panel import RunsPanel
from gui.training.dashboard import TrainingDashboard, install


def build_main_window(document: ModelDocument, settings: QSettings | None = None) -> MainWindow:
    """The main window with every panel; ``window.dataset_session``, ``window.dataset_panel``
    and ``window.dashboard``."""
    window = MainWindow(document, settings)
    # One dataset session: the Dataset panel picks and shows it, Train uses it.
    session = WindowDatasetSession(document, window)
    window.dataset_session = session
    window.readiness.follow_dataset(session)
    panel = DatasetPanel(document, session, readiness=window.readiness)
    window.dataset_panel = panel
    # Scrolled, so the panel's previews set no minimum height on the window (a laptop screen).
    scroller = QScrollArea()
    scroller.setWidgetResizable(True)
    scroller.setFrameShape(QScrollArea.Shape.NoFrame)
    scroller.setWidget(panel)
    window.dataset_dock = window.add_dock("Dataset", scroller, Qt.DockWidgetArea.LeftDockWidgetArea)
    # Blocks, Dataset and Training share the left column as tabs (see _tab_left_column).
    # Tabbing waits for the first show: tabbed before it, Qt 6.11 leaves a stale tab bar.
    _FirstShow(window, lambda: _tab_left_column(window))
    # Choosing data in the Dataset panel is an edit of the model (its `dataset` field), so it is
    # saved with the model and undoable; the session follows the spec, so this cannot loop.
    session.dataset_chosen.connect(document.set_dataset)

    dashboard = install(window, document, session=session)
    window.dashboard = dashboard
    # File asks before a live run is stopped, and projects keep the panel's settings.
    window.files.attach_training(dashboard)
    # A clicked preview sample becomes the probe sample: for the next run when idle, at once
    # (within a step) during a run.
    panel.sample_selected.connect(dashboard.panel.sample_spin.setValue)
    dashboard.panel.probe_sample_changed.connect(dashboard.set_probe_sample)

    # The same rule as the Train action's enables the panel's Train button; an error about a
    # run clears when the model changes (an edit, New, Open).
    def follow_readiness() -> None:
        dashboard.panel.set_train_blocker(window.readiness.reason())

    window.readiness.changed.connect(follow_readiness)
    follow_readiness()
    document.spec_changed.connect(dashboard.panel.clear_error)

    _add_runs_panel(window, document, dashboard)
    _add_weight_actions(window, document)
    return window


def _add_runs_panel(window: MainWindow, document: ModelDocument, board: TrainingDashboard) -> None:
    """The Runs dock: a tab of the left column in Build, a tab of the views' grid in Train,
    where the Loss curves it draws on stay in sight beside it. It reads the runs again when a project opens (the document's path changes) and
    when a run starts or ends."""
    runs = RunsPanel(document, board.curves, board.gradients)
    # Double-clicking a run shows it in the views (its curves and saved probe snapshots),
    # followed while it is still being written, as File › Open Run does.
    runs.run_activated.connect(window.files.open_run_folder)
    runs.continue_handler = board.continue_run  # Continue… trains in this window
    window.runs_panel = runs
    window.runs_dock = window.add_dock("Runs", runs, Qt.DockWidgetArea.LeftDockWidgetArea)
    # Hidden until it is tabbed at first show: stacked under Blocks, Dataset and Training in
    # the meantime, it would make the window taller than a 768 px screen as it first shows.
    window.runs_dock.hide()
    board.dock_layout.extra_tabs.append(window.runs_dock)
    # The controller is made when Train is first pressed (it imports torch): follow it then.
    board.run_requested.connect(lambda: runs.follow(board.controller))


class _FirstShow(QObject):
    """Run ``callback`` once, when ``window`` is first shown (before its own showEvent)."""

    def __init__(self, window: MainWindow, callback):
        super().__init__(window)
        self._callback = callback
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Show:
            watched.removeEventFilter(self)
            self._callback()
        return False


def _tab_left_column(window: MainWindow) -> None:
    """Blocks, Dataset, Training and Runs as tabs of the left column: whichever is shown gets
    the column's whole height, so at 1280×800 the palette lists every block and the training
    form shows every field without scrolling (stacked, each had a third and scrolled). Blocks
    comes first for building; Train brings the Training tab forward. (One place tabs them all:
    event filters run newest first, so separate ones would tab in the wrong order.)"""
    window.tabifyDockWidget(window.palette_dock, window.dataset_dock)
    window.tabifyDockWidget(window.dataset_dock, window.dashboard.docks["Training"])
    window.tabifyDockWidget(window.dashboard.docks["Training"], window.runs_dock)
    window.runs_dock.show()
    window.palette_dock.raise_()


def _add_weight_actions(window: MainWindow, document: ModelDocument) -> None:
    export_action = QAction("&Export…", window)
    export_action.setShortcut("Ctrl+E")
    export_action.setToolTip(
        "Write the model and its weights as .pt, .safetensors, .onnx, TorchScript, Python or JSON"
    )
    import_action = QAction("&Import Weights…", window)
    import_action.setToolTip("Load weights from a .safetensors or .pt file into this model")

    def start_dir() -> str:
        return str(document.path.parent) if document.path else str(Path.cwd())

    def export() -> None:
        from gui.export_dialog import export_from_window

        if not document.inference.valid:
            window.statusBar().showMessage(f"Cannot export: {document.inference.problem}", 10000)
            return
        export_from_window(window, document.spec, document.weights, start_dir=start_dir())

    def import_weights() -> None:
        from gui.export_dialog import import_weights_dialog

        if not document.inference.valid:
            window.statusBar().showMessage(
                f"Cannot import weights: {document.inference.problem}", 10000
            )
            return
        weights = import_weights_dialog(window, document.spec, start_dir=start_dir())
        if weights is not None:
            document.set_weights(weights)
            window.statusBar().showMessage(
                f"Imported {len(weights)} tensors into the model.", 10000
            )

    export_action.triggered.connect(lambda _=False: export())
    import_action.triggered.connect(lambda _=False: import_weights())
    quit_action = window.files.quit_action
    window.file_menu.insertAction(quit_action, export_action)
    window.file_menu.insertAction(quit_action, import_action)
    window.file_menu.insertSeparator(quit_action)
    window.export_action, window.import_weights_action = export_action, import_action


__all__ = ["TrainingDashboard", "build_main_window"]
