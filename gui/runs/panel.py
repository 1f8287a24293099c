"""The Runs panel: the runs of the open project (an untitled model's: the user's data
directory's) with what differs between them; tick runs to overlay their curves on the Loss
curves view and their gradient through time on the Gradient flow view; rename, delete, export
a run's weights, load them into the model, compare two runs' settings (actions.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.project import list_runs
from engine.runs.columns import read_metric_columns
from engine.runs.folder import RunFolderError, RunInfo, read_run, user_runs_dir
from engine.runs.probe_files import read_probes
from gui.editor.document import ModelDocument
from gui.runs import actions
from gui.runs.compare import (
    best_text,
    dataset_title,
    date_text,
    differing_settings,
    duration_text,
    run_label,
    settings_text,
)
from gui.runs.compare_dialog import RunComparisonDialog
from gui.training.views.base import PALETTE
from gui.training.views.curves import LossCurvesView, RunCurves
from gui.training.views.gradients import GradientFlowView
from gui.training.views.series import peak_downsample

# What tells runs apart comes first: a bottom dock shows a few columns before it scrolls.
COLUMNS = ("Run", "Differs", "Best", "Status", "Model", "Dataset", "Date", "Duration")
# Points per overlaid series: a screen's width, twice (peak pairs), is all a plot can show.
MAX_OVERLAY_POINTS = 4000
PATH_ROLE = Qt.ItemDataRole.UserRole


class RunsPanel(QWidget):
    """Lists runs; ``refresh`` reads them again (a project opened, a run started or ended)."""

    runs_listed = Signal()  # the list was read again
    run_activated = Signal(Path)  # a row double-clicked: show that run in the views

    def __init__(
        self,
        document: ModelDocument,
        curves: LossCurvesView,
        gradients: GradientFlowView | None = None,
        parent=None,
    ):
        super().__init__(parent)
        self.document, self.curves, self.gradients = document, curves, gradients
        self.runs: dict[Path, RunInfo] = {}
        self.overlays: dict[Path, RunCurves] = {}
        self.problems: list[str] = []
        self._followed = None  # the TrainingController whose runs refresh the list
        self._time_gradients: dict[Path, dict[str, np.ndarray]] = {}  # read once per tick

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        # Two selected runs are what Compare shows side by side.
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemDoubleClicked.connect(self._activated)
        self.refresh_button = QPushButton("Refresh")
        self.delete_button = QPushButton("Delete…")
        self.load_button = QPushButton("Load into model")
        self.load_button.setToolTip(
            "The selected run's last checkpoint becomes the model's weights"
        )
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("A name for the run in this list and in legends; its "
                                      "folder keeps its name")  # fmt: skip
        self.export_button = QPushButton("Export weights…")
        self.export_button.setToolTip("Export the selected run's last or best checkpoint")
        self.compare_button = QPushButton("Compare settings")
        self.compare_button.setToolTip("Select two runs to see their settings side by side")
        self.continue_button = QPushButton("Continue…")
        self.continue_button.setToolTip(
            "Train the selected run for more epochs from its last (or best) checkpoint, in "
            "its own folder, the curves going on from the same step"
        )
        # Set by the window: (folder, more epochs, "last" or "best") → starts the run.
        self.continue_handler = None
        self.refresh_button.clicked.connect(self.refresh)
        self.delete_button.clicked.connect(lambda: self.delete_run(self.selected()))
        self.load_button.clicked.connect(lambda: self.load_weights(self.selected()))
        self.rename_button.clicked.connect(lambda: self.rename_run(self.selected()))
        self.export_button.clicked.connect(lambda: self.export_weights(self.selected()))
        self.compare_button.clicked.connect(lambda: self.compare(*self.selected_runs()[:2]))
        self.continue_button.clicked.connect(lambda: self.continue_run(self.selected()))
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.comparison: RunComparisonDialog | None = None
        # Two columns: the widest row sets the dock's minimum width, and so its whole tab group's
        # (the Build workspace's left column): four buttons a row made it 453 px at 1280×800,
        # leaving the canvas 480 px; two make it ~270.
        buttons = QGridLayout()
        for index, button in enumerate((self.continue_button, self.refresh_button,
                                        self.export_button, self.load_button,
                                        self.rename_button, self.delete_button,
                                        self.compare_button)):  # fmt: skip
            buttons.addWidget(button, index // 2, index % 2)
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
        self._time_gradients = {p: g for p, g in self._time_gradients.items() if p in self.overlays}
        if gone:
            self.curves.show_overlays(list(self.overlays.values()), gone)
        self._fill()
        self._relabel_overlays()
        # Also after a run starts: the Gradient flow view took the recorded runs off for it.
        self.show_time_gradients()
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

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        if item.data(0, PATH_ROLE):  # not a problem row
            self.run_activated.emit(Path(item.data(0, PATH_ROLE)))

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
        self.set_ticked_runs([path], ticked)

    def set_ticked_runs(self, paths, ticked: bool) -> None:
        """Tick or untick several runs at once: the views are redrawn once, not once a run."""
        changed = []
        self.tree.blockSignals(True)
        for path in map(Path, paths):
            item = self._item(path)
            state = Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
            if item is not None and item.checkState(0) != state:
                item.setCheckState(0, state)
                changed.append(item)
        self.tree.blockSignals(False)
        self._ticks_changed(changed)

    def overlay_labels(self) -> list[str]:
        return [run.label for run in self.overlays.values()]

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0 and item.data(0, PATH_ROLE):
            self._ticks_changed([item])

    def _ticks_changed(self, items: list[QTreeWidgetItem]) -> None:
        added, removed = False, []
        for item in items:
            path = Path(item.data(0, PATH_ROLE))
            ticked = item.checkState(0) == Qt.CheckState.Checked
            if ticked and path not in self.overlays:
                run = self._overlay(path)
                if run is None:
                    self.tree.blockSignals(True)
                    item.setCheckState(0, Qt.CheckState.Unchecked)
                    self.tree.blockSignals(False)
                    continue
                self.overlays[path] = run
                added = True
            elif not ticked and path in self.overlays:
                removed.append(self.overlays.pop(path))
                self._time_gradients.pop(path, None)
        if added or removed:
            self.curves.show_overlays(list(self.overlays.values()), removed)
            self.show_time_gradients()

    def _overlay(self, path: Path) -> RunCurves | None:
        """The run's curves, from metrics.npz when it is up to date (else metrics.jsonl),
        thinned to what a plot can show."""
        run_info = self.runs[path]
        try:
            metrics = read_metric_columns(path, write_cache=run_info.status != "running",
                                          step_columns=("step", "loss", "accuracy"))  # fmt: skip
        except RunFolderError as err:
            self._say(str(err))
            return None
        colour = PALETTE[(len(self.overlays) + 3) % len(PALETTE)]  # after the live runs' first
        run = RunCurves(-1, self._label(path), colour)
        steps, epochs = metrics.steps, metrics.epochs
        _extend(run.train_loss, steps["step"], steps["loss"])
        _extend(run.train_metric, steps["step"], steps["accuracy"])
        _extend(run.val_loss, epochs["step"], epochs["val_loss"])
        if np.isfinite(epochs["val_accuracy"]).any() or not np.isfinite(epochs["val_mae"]).any():
            _extend(run.val_metric, epochs["step"], epochs["val_accuracy"])
        else:
            run.metric_name = "MAE"
            _extend(run.val_metric, epochs["step"], epochs["val_mae"])
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

    def selected_runs(self) -> list[RunInfo]:
        """The selected runs, in the list's order."""
        paths = {item.data(0, PATH_ROLE) for item in self.tree.selectedItems()}
        return [run for path, run in self.runs.items() if str(path) in paths]

    def rename_run(self, path: Path | None, name: str | None = None) -> bool:
        """Give a run a name (asked for when ``name`` is None); its folder keeps its name."""
        run = self.runs.get(path) if path else None
        if run is None:
            return False
        done, message = actions.rename(self, run, name)
        if done:
            self.refresh()  # the row, and the legend names of the ticked runs
        self._say(message)
        return done

    def delete_run(self, path: Path | None) -> bool:
        """Delete a run folder after asking; a run still being written is refused."""
        run = self.runs.get(path) if path else None
        if run is None:
            return False
        done, message = actions.delete(self, run, self.document)
        if done or message:
            self.refresh()
        self._say(message)
        return done

    def load_weights(self, path: Path | None) -> bool:
        """The run's last checkpoint becomes the model's weights, when it fits the model."""
        run = self.runs.get(path) if path else None
        if run is None:
            return False
        done, message = actions.load_weights(run, self.document)
        self._say(message)
        return done

    def export_weights(self, path: Path | None, which: str | None = None) -> bool:
        """The export dialog with the run's last or best checkpoint (asked) and its model."""
        run = self.runs.get(path) if path else None
        if run is None:
            return False
        done, message = actions.export_weights(self, run, which)
        self._say(message)
        return done

    def continue_run(
        self, path: Path | None, more_epochs: int | None = None, which: str | None = None
    ) -> bool:
        """Train the run at ``path`` for ``more_epochs`` more epochs (asked when None) from
        its ``which`` checkpoint (asked when it has a last and a different best)."""
        run = self.runs.get(path) if path else None
        if run is None or self.continue_handler is None:
            return False
        done, message = actions.continue_run(self, run, self.continue_handler, more_epochs, which)
        self._say(message)
        return done

    def compare(self, first: RunInfo | None = None, second: RunInfo | None = None):
        """Show two runs' settings side by side (a dialog that stays open beside the panel)."""
        if first is None or second is None:
            self._say("Select two runs (Ctrl+click) to compare their settings.")
            return None
        if self.comparison is not None:
            self.comparison.close()
            self.comparison.deleteLater()
        self.comparison = RunComparisonDialog(first, second, self)
        self.comparison.show()
        return self.comparison

    # ------------------------------------------------------------ gradient through time

    def set_gradient_view(self, gradients: GradientFlowView) -> None:
        """The Gradient flow view that ticked runs of recurrent models are drawn on."""
        self.gradients = gradients
        self.show_time_gradients()

    def show_time_gradients(self) -> list[str]:
        """Draw the ticked runs' saved ‖∂L/∂h_t‖ (probes/time_gradients.*) on the Gradient flow
        view, named and coloured as on the Loss curves; runs without one are left out."""
        if self.gradients is None:
            return []
        shown = []
        for path, curves in self.overlays.items():
            gradients = self._saved_time_gradients(path)
            if gradients:
                shown.append((curves.label, curves.colour, gradients))
        return self.gradients.show_recorded_runs(shown)

    def _saved_time_gradients(self, path: Path) -> dict[str, np.ndarray]:
        if path not in self._time_gradients:
            probes, _problems = read_probes(path)  # a bad file: the run is drawn without it
            step_and_data = probes.get("time_gradients")
            data = step_and_data[1] if step_and_data else ()
            self._time_gradients[path] = {tg.block_id: np.asarray(tg.grad_norm) for tg in data}
        return self._time_gradients[path]

    def _selection_changed(self) -> None:
        run = self.runs.get(self.selected()) if self.selected() else None
        self.delete_button.setEnabled(run is not None and run.status != "running")
        self.rename_button.setEnabled(run is not None and run.status != "running")
        self.load_button.setEnabled(run is not None)
        self.export_button.setEnabled(run is not None)
        self.continue_button.setEnabled(
            run is not None and run.status != "running" and self.continue_handler is not None
        )
        self.compare_button.setEnabled(len(self.selected_runs()) == 2)

    def _item(self, path: Path) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, PATH_ROLE) == str(path):
                return item
        return None

    def _say(self, text: str) -> None:
        self.message.setText(text)


def _extend(series, steps: np.ndarray, values: np.ndarray) -> None:
    """Append the points whose step and value are numbers, thinned for drawing."""
    keep = np.isfinite(steps) & np.isfinite(values)
    if keep.any():
        series.extend(*peak_downsample(steps[keep], values[keep], MAX_OVERLAY_POINTS))
