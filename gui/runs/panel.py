"""The Runs panel: the runs of the open project (an untitled model's: the user's data
directory's) with what differs between them; tick runs to overlay their curves on the Loss
curves view, delete a run, load a run's last weights into the model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.project import list_runs
from engine.runs.folder import RunFolderError, RunInfo, read_metrics, read_run, user_runs_dir
from gui.editor.document import ModelDocument
from gui.runs.compare import (
    best_text,
    dataset_title,
    date_text,
    differing_settings,
    duration_text,
    peak_downsample,
    run_label,
    settings_text,
)
from gui.training.views.base import PALETTE
from gui.training.views.curves import LossCurvesView, RunCurves

# What tells runs apart comes first: a bottom dock shows a few columns before it scrolls.
COLUMNS = ("Run", "Differs", "Best", "Status", "Model", "Dataset", "Date", "Duration")
# Points per overlaid series: a screen's width, twice (peak pairs), is all a plot can show.
MAX_OVERLAY_POINTS = 4000
PATH_ROLE = Qt.ItemDataRole.UserRole


class RunsPanel(QWidget):
    """Lists runs; ``refresh`` reads them again (a project opened, a run started or ended)."""

    runs_listed = Signal()  # the list was read again

    def __init__(self, document: ModelDocument, curves: LossCurvesView, parent=None):
        super().__init__(parent)
        self.document, self.curves = document, curves
        self.runs: dict[Path, RunInfo] = {}
        self.overlays: dict[Path, RunCurves] = {}
        self.problems: list[str] = []
        self._followed = None  # the TrainingController whose runs refresh the list

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.refresh_button = QPushButton("Refresh")
        self.delete_button = QPushButton("Delete…")
        self.load_button = QPushButton("Load weights into the model")
        self.load_button.setToolTip(
            "The selected run's last checkpoint becomes the model's weights"
        )
        self.refresh_button.clicked.connect(self.refresh)
        self.delete_button.clicked.connect(lambda: self.delete_run(self.selected()))
        self.load_button.clicked.connect(lambda: self.load_weights(self.selected()))
        self.message = QLabel()
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.refresh_button, self.delete_button, self.load_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.message)

        document.path_changed.connect(self.refresh)
        self.refresh()

    def follow(self, controller) -> None:
        """Read the runs again when ``controller``'s runs start and end (once per controller)."""
        if controller is self._followed:
            return
        self._followed = controller
        for signal in (controller.run_started, controller.run_finished, controller.run_failed):
            signal.connect(self._run_event)

    def _run_event(self, _event) -> None:
        self.refresh()

    # ------------------------------------------------------------ listing

    def folder(self) -> Path:
        """Where the listed runs are: the project's runs/, else the user's data directory's."""
        return self.document.runs_folder or user_runs_dir()

    def refresh(self) -> None:
        """Read the runs again; ticked runs that are still there stay ticked."""
        found, problems = list_runs(self.folder())
        runs = {r.path: r for r in found}
        for path in self.document.unsaved_runs:  # recorded before the project was saved
            if path not in runs and path.exists():
                try:
                    runs[path] = read_run(path)
                except RunFolderError as err:
                    problems.append(str(err))
        self.runs, self.problems = runs, problems
        gone = [self.overlays.pop(p) for p in list(self.overlays) if p not in runs]
        if gone:
            self.curves.show_overlays(list(self.overlays.values()), gone)
        self._fill()
        self._relabel_overlays()
        self.runs_listed.emit()

    def _fill(self) -> None:
        keys = differing_settings(list(self.runs.values()))
        self.tree.blockSignals(True)  # checkboxes set here are not the user ticking them
        self.tree.clear()
        for path, run in self.runs.items():
            texts = (run.name, settings_text(run, keys), best_text(run), run.status,
                     str(run.get("model_name") or ""), dataset_title(run), date_text(run),
                     duration_text(run))  # fmt: skip
            item = QTreeWidgetItem([str(t) for t in texts])
            item.setData(0, PATH_ROLE, str(path))
            item.setToolTip(0, str(path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            ticked = Qt.CheckState.Checked if path in self.overlays else Qt.CheckState.Unchecked
            item.setCheckState(0, ticked)
            if run.get("message"):
                item.setToolTip(3, str(run.get("message")))
            self.tree.addTopLevelItem(item)
        for problem in self.problems:  # a run folder that cannot be read: its sentence
            item = QTreeWidgetItem([problem])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setFirstColumnSpanned(True)
            item.setToolTip(0, problem)
            self.tree.addTopLevelItem(item)
        self.tree.blockSignals(False)
        for column in range(1, len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self._selection_changed()

    def rows(self) -> list[list[str]]:
        """The texts of every row, as shown (a problem row: its sentence alone)."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            texts = [item.text(c) for c in range(len(COLUMNS))]
            out.append(texts if item.data(0, PATH_ROLE) else texts[:1])
        return out

    # ------------------------------------------------------------ overlays

    def set_ticked(self, path: str | Path, ticked: bool) -> None:
        """Tick (overlay its curves) or untick a listed run, as its checkbox does."""
        item = self._item(Path(path))
        if item is not None:
            item.setCheckState(0, Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    def overlay_labels(self) -> list[str]:
        return [run.label for run in self.overlays.values()]

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        path = item.data(0, PATH_ROLE)
        if column != 0 or not path:
            return
        path = Path(path)
        ticked = item.checkState(0) == Qt.CheckState.Checked
        if ticked and path not in self.overlays:
            run = self._overlay(path)
            if run is None:
                self.tree.blockSignals(True)
                item.setCheckState(0, Qt.CheckState.Unchecked)
                self.tree.blockSignals(False)
                return
            self.overlays[path] = run
            self.curves.show_overlays(list(self.overlays.values()))
        elif not ticked and path in self.overlays:
            removed = self.overlays.pop(path)
            self.curves.show_overlays(list(self.overlays.values()), [removed])

    def _overlay(self, path: Path) -> RunCurves | None:
        """The run's curves from its metrics.jsonl, thinned to what a plot can show."""
        try:
            metrics = read_metrics(path)
        except RunFolderError as err:
            self._say(str(err))
            return None
        colour = PALETTE[(len(self.overlays) + 3) % len(PALETTE)]  # after the live runs' first
        run = RunCurves(-1, self._label(path), colour)
        steps = [(r.get("step"), r.get("loss"), r.get("accuracy")) for r in metrics.steps]
        _extend(run.train_loss, [(s, loss) for s, loss, _ in steps])
        _extend(run.train_metric, [(s, acc) for s, _, acc in steps])
        epochs = metrics.epochs
        _extend(run.val_loss, [(r.get("step"), r.get("val_loss")) for r in epochs])
        if any(r.get("val_accuracy") is not None for r in epochs):
            _extend(run.val_metric, [(r.get("step"), r.get("val_accuracy")) for r in epochs])
        else:
            run.metric_name = "MAE"
            _extend(run.val_metric, [(r.get("step"), r.get("val_mae")) for r in epochs])
        self._say(" ".join(metrics.problems[:3]))
        return run

    def _label(self, path: Path) -> str:
        runs = list(self.runs.values())
        models = {str(r.get("model_name")) for r in runs}
        return run_label(self.runs[path], differing_settings(runs), len(models) > 1)

    def _relabel_overlays(self) -> None:
        """What differs depends on which runs are listed: a new run can change every label."""
        changed = [p for p, run in self.overlays.items() if run.label != self._label(p)]
        if not changed:
            return
        old = [self.overlays[p] for p in changed]
        for path, run in zip(changed, old, strict=True):
            self.overlays[path] = RunCurves(
                run.run_id, self._label(path), run.colour, run.train_loss, run.train_metric,
                run.val_loss, run.val_metric, metric_name=run.metric_name,
            )  # fmt: skip
        self.curves.show_overlays(list(self.overlays.values()), old)

    # ------------------------------------------------------------ actions

    def selected(self) -> Path | None:
        items = self.tree.selectedItems()
        path = items[0].data(0, PATH_ROLE) if items else None
        return Path(path) if path else None

    def select(self, path: str | Path) -> None:
        item = self._item(Path(path))
        if item is not None:
            self.tree.setCurrentItem(item)

    def delete_run(self, path: Path | None) -> bool:
        """Delete a run folder after asking; a run still being written is refused."""
        run = self.runs.get(path) if path else None
        if run is None:
            return False
        if run.status == "running":
            self._say(f"The run {run.name} is still training: stop it before deleting it.")
            return False
        answer = QMessageBox.question(
            self,
            "Delete run",
            f"Delete the run {run.name} and everything it recorded (weights, curves, "
            f"checkpoints)?\n\n{path}\n\nThis cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            shutil.rmtree(path)
        except OSError as err:
            self._say(f"Cannot delete '{path}': {err.strerror or err}. Check its permissions.")
            self.refresh()
            return False
        self.document.forget_run(path)
        self.refresh()
        self._say(f"Deleted the run {run.name}.")
        return True

    def load_weights(self, path: Path | None) -> bool:
        """The run's last checkpoint becomes the model's weights, when it fits the model."""
        run = self.runs.get(path) if path else None
        if run is None:
            return False
        # torch: the checkpoint is safetensors, and checking it builds the model.
        from engine.project import ProjectError, checked_weights
        from engine.runs.checkpoint import read_checkpoint

        if not self.document.inference.valid:
            self._say(f"Cannot load weights: {self.document.inference.problem}")
            return False
        try:
            checkpoint = read_checkpoint(path, "last")
            weights = {k: v.numpy().copy() for k, v in checkpoint.model_state().items()}
            checked_weights(self.document.spec, weights, checkpoint.path)
        except (RunFolderError, ProjectError) as err:
            self._say(str(err))
            return False
        self.document.set_weights(weights)
        step = checkpoint.progress.step
        self._say(f"Loaded the weights of {run.name} (step {step}) into the model.")
        return True

    def _selection_changed(self) -> None:
        run = self.runs.get(self.selected()) if self.selected() else None
        self.delete_button.setEnabled(run is not None and run.status != "running")
        self.load_button.setEnabled(run is not None)

    def _item(self, path: Path) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, PATH_ROLE) == str(path):
                return item
        return None

    def _say(self, text: str) -> None:
        self.message.setText(text)


def _extend(series, points) -> None:
    """Append the points whose step and value are numbers, thinned for drawing."""
    pairs = [(s, v) for s, v in points if isinstance(s, int | float) and isinstance(v, int | float)]
    if not pairs:
        return
    xy = np.asarray(pairs, dtype=np.float64)
    series.extend(*peak_downsample(xy[:, 0], xy[:, 1], MAX_OVERLAY_POINTS))
