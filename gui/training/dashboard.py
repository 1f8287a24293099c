"""The training dashboard: the panel and the live views, wired to the training controller.

Events reach the views as plain data (the controller coalesces them to UPDATE_HZ updates/s);
the views only store them. Three parts do the rest: DockLayout (docks.py) places the views,
ViewPainter (painting.py) repaints the dirty ones on screen at a paced rate, and ProbeRouter
(routing.py) hands each probe snapshot to the views the probe registry names.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow

from engine.data import Dataset
from engine.training.events import (
    EpochMetrics,
    Failed,
    Finished,
    ProbeSnapshot,
    RunStarted,
    SettingsChanged,
    StepMetrics,
)
from gui.dataset.session import WindowDatasetSession
from gui.editor.document import ModelDocument
from gui.runs.follow import RunFollower
from gui.training.docks import DockLayout
from gui.training.linking import DiagramLink
from gui.training.painting import ViewPainter
from gui.training.panel import TrainingPanel
from gui.training.routing import ProbeRouter
from gui.training.views import (
    ConfusionMatrixView,
    DecisionRegionView,
    FeatureMapView,
    FilterGridView,
    ForecastView,
    GateHeatmapView,
    GradientFlowView,
    HistogramView,
    LiveView,
    LossCurvesView,
    PredictionGridView,
    SaliencyView,
)
from gui.training.views.curves import setting_label, setting_value


class TrainingDashboard(QObject):
    """Owns the training panel, the views and (lazily) the TrainingController."""

    run_requested = Signal()  # Train pressed and accepted; the dataset is loading

    def __init__(
        self,
        document: ModelDocument,
        controller=None,
        parent: QObject | None = None,
        session: WindowDatasetSession | None = None,
    ):
        super().__init__(parent)
        self.document = document
        # The window's one dataset session (the Dataset panel's); a dashboard alone makes its own.
        self.session = session or WindowDatasetSession(document, self)
        self.panel = TrainingPanel()
        self.curves = LossCurvesView()
        self.filters = FilterGridView()
        self.feature_maps = FeatureMapView()
        self.gates = GateHeatmapView()
        self.gradients = GradientFlowView()
        self.histograms = HistogramView()
        self.confusion = ConfusionMatrixView()
        self.predictions = PredictionGridView()
        self.forecast = ForecastView()
        self.regions = DecisionRegionView()
        self.saliency = SaliencyView()
        self.views: dict[str, LiveView] = {v.title: v for v in (
            self.curves, self.filters, self.feature_maps, self.gates, self.gradients,
            self.histograms, self.confusion, self.predictions, self.forecast, self.regions,
            self.saliency,
        )}  # fmt: skip
        self.dock_layout = DockLayout(self.panel, self.views, self)
        self.painter = ViewPainter(self.views.values(), self)
        # The block selected on the canvas is the layer the views show; outputs go on the cards.
        self.link = DiagramLink(document, self.views.values(), self)
        self.router = ProbeRouter(
            self.views,
            lambda message: self.panel.show_status(message, error=True),
            cards=self.link.take_snapshot,
        )
        self.window: QMainWindow | None = None
        self._controller = controller
        self._wired = False  # the controller's signals are connected
        self.dataset: Dataset | None = None
        self._pending_settings: dict[str, Any] | None = None
        # TrainSettings fields the panel has no control for (tests, benchmarks: probe_intervals).
        self.settings_overrides: dict[str, Any] = {}
        self.last_step: StepMetrics | None = None
        # A run read from its folder (File › Open Run, a project's newest run), maybe followed.
        self.follower = RunFollower(self)

        self.session.dataset_loaded.connect(self._dataset_loaded)
        self.session.load_failed.connect(self._dataset_failed)

        self.panel.train_requested.connect(self.train)
        self.panel.pause_requested.connect(lambda: self.controller.pause())
        self.panel.resume_requested.connect(lambda: self.controller.resume())
        self.panel.stop_requested.connect(self.stop)
        self.panel.lr_edited.connect(self._lr_edited)
        self.panel.grad_clip_edited.connect(self._grad_clip_edited)
        document.spec_changed.connect(self._spec_changed)
        self._spec_changed()

    # ------------------------------------------------------------ controller (imports torch)

    @property
    def controller(self):
        """The TrainingController, made on first use: importing it imports torch (~2 s)."""
        if self._controller is None:
            from gui.training.controller import TrainingController

            self._controller = TrainingController(self)
        if not self._wired:
            self._wired = True
            c = self._controller
            c.run_started.connect(self.on_run_started)
            c.steps_received.connect(self.on_steps)
            c.epoch_finished.connect(self.on_epoch)
            c.settings_changed.connect(self.on_settings_changed)
            c.probe_updated.connect(self.on_probe)
            c.paused_changed.connect(self.panel.paused_changed)
            c.run_finished.connect(self.on_finished)
            c.run_failed.connect(self.on_failed)
        return self._controller

    # ------------------------------------------------------------ commands

    def train(self) -> None:
        """Start a run on the session's dataset, once it has loaded (off the GUI thread)."""
        if self.panel.state != "idle":
            return
        self.follower.stop()  # the views show the window's own run from now on
        problem = self.document.inference.problem
        if problem:
            self._fail(f"The model cannot be trained yet: {problem}")
            return
        source = self.session.training_source()
        if source is None:
            self._fail("Choose a dataset in the Dataset panel, then press Train.")
            return
        # A project's runs are recorded into its runs/ folder; an untitled model's into the
        # user's data directory (runs_folder None), from where Save brings them into a project.
        runs = self.document.runs_folder
        where = {"runs_folder": str(runs)} if runs is not None else {}
        self._pending_settings = {**self.panel.settings(), **where, **self.settings_overrides}
        self.panel.run_requested()
        self.run_requested.emit()
        loaded = self.session.ensure_loaded(source)
        if loaded is not None:
            self._dataset_loaded(source, loaded, None)
        else:
            self.panel.show_status(f"Loading the {source.title} dataset…")

    def continue_run(self, folder, more_epochs: int, which: str = "last") -> None:
        """Train the run in ``folder`` for ``more_epochs`` more epochs from its ``which``
        checkpoint (last or best): its own model, data and settings, optimiser state kept,
        recorded into the same folder, its curves going on from the same step, as
        `main.py train --resume` does. RunFolderError (a sentence) when it cannot."""
        from dataclasses import replace

        from engine.runs.folder import RunFolderError
        from engine.runs.resume import plan_resume

        if self.panel.state != "idle" or self.is_training:
            raise RunFolderError("A run is training in this window: stop it, then Continue.")
        plan = plan_resume(folder, more_epochs, which=which)
        self.follower.show_run(plan.folder, follow=False)  # the run so far, under the new steps
        settings = replace(plan.settings, probes=True, record=True, torch_threads=None,
                           **self.settings_overrides)  # fmt: skip
        source = plan.dataset
        # The sample views need the data in this process: at hand when it is the window's own.
        data = self.session.dataset if source.same_data(self.session.source) else None
        if data is not None:
            self.show_dataset(data)
        self.panel.run_requested()
        self.run_requested.emit()
        self.controller.start(
            plan.spec, data if data is not None else source, settings,
            resume_from=plan.checkpoint, run_folder=str(plan.folder), data_source=source,
        )  # fmt: skip

    def stop(self) -> None:
        self.controller.stop()

    @property
    def is_training(self) -> bool:
        """A run is live (or Train is waiting for its dataset)."""
        live = self._controller is not None and self._controller.is_running
        return live or self._pending_settings is not None

    def stop_training(self) -> None:
        """Stop a live run and wait for it: its last events (weights, run folder) arrive first."""
        self._pending_settings = None
        if self._controller is not None:
            self._controller.shutdown()
        if self.panel.state != "idle":
            self.panel.run_failed("Training was stopped.")

    def shutdown(self) -> None:
        """Stop painting, wait for a dataset load and stop a run (window closing, tests)."""
        self.painter.stop()
        self.session.wait(10.0)
        if self._controller is not None:
            self._controller.shutdown()

    def show_dataset(self, dataset: Dataset) -> None:
        """The run's data for the views that show samples or name classes."""
        self.dataset = dataset
        self.predictions.set_samples(dataset.x_val, dataset.y_val, dataset.class_names)
        for view in (self.confusion, self.regions, self.saliency):
            view.set_class_names(dataset.class_names)

    def _dataset_loaded(self, source, dataset: Dataset, _preview) -> None:
        from engine.training.settings import SettingsError, TrainSettings

        if self._pending_settings is None:  # no Train waiting for it
            return
        self.show_dataset(dataset)
        try:
            settings = TrainSettings(**self._pending_settings).checked()
        except SettingsError as error:
            self._fail(str(error))
            return
        self._pending_settings = None
        # The source goes with the data, so the run folder says where to read it again.
        self.controller.start(self.document.spec, dataset, settings, data_source=source)

    def _dataset_failed(self, _source, error) -> None:
        if self._pending_settings is not None:  # Train was waiting for this load
            self._fail(str(error))

    def _lr_edited(self, lr: float) -> None:
        from engine.training.settings import SettingsError

        try:
            self.controller.set_lr(lr)
        except SettingsError as error:
            self.panel.show_status(str(error), error=True)

    def _grad_clip_edited(self, grad_clip: float | None) -> None:
        from engine.training.settings import SettingsError

        try:
            self.controller.update_settings(grad_clip=grad_clip)
        except SettingsError as error:
            self.panel.show_status(str(error), error=True)

    def _fail(self, message: str) -> None:
        self._pending_settings = None
        self.panel.run_failed(message)
        self.dock_layout.run_failed()
        self._status(message)

    # ------------------------------------------------------------ runs on disk

    def show_run(self, folder, follow: bool = True) -> None:
        """Show a run folder's curves and saved probe snapshots, following it while it is
        written (File › Open Run, the Runs panel). RunFolderError, a sentence, when it cannot
        be read or while this window trains (its views show that run); the views stay as
        they were."""
        from engine.runs.folder import RunFolderError

        if self.is_training:
            raise RunFolderError(
                f"Cannot show '{folder}' while this window is training: stop the run first."
            )
        self.follower.show_run(folder, follow)

    def show_recorded_run(self, started: RunStarted, label: str) -> None:
        """Empty the views for a run read from its folder, as a run's start does (without the
        panel's running state)."""
        for view in (self.filters, self.feature_maps, self.gates, self.histograms,
                     self.confusion, self.predictions, self.forecast, self.regions,
                     self.saliency):  # fmt: skip
            view.clear()
        self.curves.start_run(started, label)
        self.gradients.new_run(label)

    def show_message(self, text: str, error: bool = False) -> None:
        """A sentence about the runs shown, in the panel and the status bar."""
        self.panel.show_status(text, error=error)
        self._status(text)

    # ------------------------------------------------------------ events in

    def on_run_started(self, event: RunStarted) -> None:
        self.follower.stop()  # whatever started it, the views now show this window's run
        for view in (self.filters, self.feature_maps, self.gates, self.histograms,
                     self.confusion, self.predictions, self.forecast, self.regions,
                     self.saliency):  # fmt: skip
            view.clear()
        self.link.clear()
        self.curves.start_run(event)
        self.gradients.new_run(f"run {event.run_id}")
        self.panel.run_started(event)
        if event.run_folder:
            self.document.add_run(event.run_folder)
        self.dock_layout.raise_relevant()
        self._status(f"Training {event.model_name} on {event.dataset_name} ({event.device})")

    def on_steps(self, steps: list) -> None:
        if steps:
            self.last_step = steps[-1]
        self.curves.add_steps(steps)
        self.panel.steps_received(steps)

    def on_epoch(self, event: EpochMetrics) -> None:
        self.curves.add_epoch(event)
        self.panel.epoch_finished(event)
        # In the status bar too: the Train workspace's run bar shows the speed while running.
        self._status(self.panel.message)

    def on_settings_changed(self, event: SettingsChanged) -> None:
        self.curves.add_settings_change(event)
        changes = dict(event.changes)
        sample = changes.pop("probe_sample_index", None)
        parts = [f"{setting_label(k)} {setting_value(v)}" for k, v in changes.items()]
        if sample is not None:
            parts.append(f"the views now show validation sample {sample}")
        self.panel.show_status(f"Step {event.step}: {', '.join(parts)}.")
        self._status(self.panel.message)

    def set_probe_sample(self, index: int) -> None:
        """Show sample ``index`` in the live run's views (feature maps, gates); before a run
        starts it is simply the next run's setting. A bad index is a message, not a crash."""
        if self._controller is not None and self._controller.is_running:
            from engine.training.settings import SettingsError  # torch is loaded: a run is live

            try:
                self._controller.update_settings(probe_sample_index=index)
            except SettingsError as error:
                self.panel.show_status(str(error), error=True)
        elif self._pending_settings is not None:
            # Train was pressed and the dataset is still loading: the run starts with it.
            self._pending_settings["probe_sample_index"] = index

    def on_probe(self, snapshot: ProbeSnapshot) -> None:
        """Hand a probe's newest snapshot to the views that show it."""
        self.router.route(snapshot)

    def on_finished(self, event: Finished) -> None:
        self.panel.run_finished(event)
        self.document.set_weights(dict(event.weights))
        how = "stopped" if event.stopped_early else "finished"
        self._status(f"Training {how} after {event.epochs_done} epochs ({event.step} steps)")

    def on_failed(self, event: Failed) -> None:
        self.panel.run_failed(event)
        self.dock_layout.run_failed()
        if event.weights:  # the last good weights, kept for export
            self.document.set_weights(dict(event.weights))
        self._status(f"Training failed: {event.message}")

    # ------------------------------------------------------------ painting and docks

    @property
    def docks(self) -> dict[str, QDockWidget]:
        return self.dock_layout.docks

    @property
    def paint_seconds(self) -> float:
        return self.painter.paint_seconds

    def repaint_views(self) -> int:
        """Repaint the dirty views on screen if a frame is due; returns how many painted."""
        return self.painter.repaint_views()

    def repaint_all(self) -> None:
        """Paint every view with data now, on screen or not (screenshots, exports)."""
        self.painter.repaint_all()

    def add_to(self, window: QMainWindow) -> None:
        """Dock the panel in the left column and the views in the Train workspace's grid."""
        self.window = window
        self.dock_layout.add_to(window)
        self.link.attach(window)
        self.run_requested.connect(self.dock_layout.training_started)  # the Train workspace
        window.train_action.triggered.connect(self._train_from_action)
        # The window's Pause and Stop act as the panel's buttons and follow their state.
        window.pause_action.triggered.connect(lambda: self.panel.pause_button.click())
        window.stop_action.triggered.connect(lambda: self.panel.stop_button.click())
        self.panel.controls_changed.connect(self._mirror_controls)
        self._mirror_controls()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def _status(self, text: str) -> None:
        if self.window is not None:
            self.window.statusBar().showMessage(text, 10000)

    def _spec_changed(self) -> None:
        if self.panel.state == "idle":
            self.panel.set_dataset(self.document.spec.dataset)
        self.dock_layout.model_changed(self.document.spec)

    def _mirror_controls(self) -> None:
        pause, stop = self.window.pause_action, self.window.stop_action
        pause.setEnabled(self.panel.pause_button.isEnabled())
        pause.setText("&Resume" if self.panel.pause_button.text() == "Resume" else "&Pause")
        stop.setEnabled(self.panel.stop_button.isEnabled())
        self.window.set_run_live(self.panel.stop_button.isEnabled())

    def _train_from_action(self) -> None:
        self.dock_layout.show_controls()
        self.train()


def install(
    window: QMainWindow,
    document: ModelDocument,
    controller=None,
    session: WindowDatasetSession | None = None,
) -> TrainingDashboard:
    """Add the training panel and views to ``window`` and wire its Train action."""
    dashboard = TrainingDashboard(document, controller, parent=window, session=session)
    dashboard.add_to(window)
    return dashboard
