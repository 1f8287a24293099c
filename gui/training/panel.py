"""The training panel: the dataset it trains on (read-only), optimiser settings, Train / Pause /
Resume / Stop, progress.

The panel knows nothing of the training process. It turns clicks into request signals and shows
what the dashboard tells it (run started, steps, epochs, paused, finished, failed), so it can be
tested with plain events. torch is never imported when the window opens: the device list is
filled the first time someone opens it (or when torch is already loaded).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.data import BUILTIN
from engine.training.events import EpochMetrics, Failed, Finished, RunStarted, StepMetrics
from engine.training.settings import DEFAULT_LR, OPTIMIZER_TITLES, OPTIMIZERS, TrainSettings
from gui.training.fields import DeviceComboBox, format_duration


class TrainingPanel(QWidget):
    """Settings and controls of a training run, and its progress."""

    train_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()
    lr_edited = Signal(float)  # the user changed the learning rate while a run is live
    grad_clip_edited = Signal(object)  # max gradient norm (float), or None for off, while live
    probe_sample_changed = Signal(int)  # the probe sample changed while a run is live
    controls_changed = Signal()  # Pause/Resume and Stop changed (enabled, label): mirror them
    # The progress, the speed line or the message changed: the Train workspace's run bar
    # (gui/training/run_bar.py) shows them too.
    display_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("TrainingPanel")
        self.state = "idle"  # idle | running | paused | stopping
        self._optimizer = TrainSettings.optimizer  # whose default learning rate the spin shows
        self._total_steps: int | None = 0  # None: until stopped
        self._epochs: int | None = 0
        self._first_step = self._steps_per_epoch = 0

        self._dataset_id: str | None = None
        self._hinting = False  # the message shown is idle_hint(), kept up to date
        self._showing_schedule = False  # the learning rate shown is the run's, not an edit
        # Read-only: the Dataset panel is the one place to pick the data.
        self.dataset_label = QLabel("—")
        self.dataset_label.setToolTip("The data to train on; choose it in the Dataset panel")
        self.optimizer_combo = QComboBox()
        # Adam first: it is the default and the one that forgives a poor learning rate.
        for name in sorted(OPTIMIZERS, key=lambda n: n != TrainSettings.optimizer):
            self.optimizer_combo.addItem(OPTIMIZER_TITLES[name], name)
        self.optimizer_combo.currentIndexChanged.connect(self._optimizer_changed)
        # Every default is TrainSettings' own (engine/training/settings.py), as on the CLI.
        self.lr_spin = QDoubleSpinBox(
            decimals=6, minimum=1e-6, maximum=1000.0, value=DEFAULT_LR[TrainSettings.optimizer]
        )
        self.lr_spin.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.lr_spin.setToolTip("Learning rate; editable during training (press Enter to apply)")
        self.lr_spin.setKeyboardTracking(False)  # one change per edit, not one per keystroke
        self.lr_spin.valueChanged.connect(self._lr_changed)
        # 0 shows as "off": no clipping, TrainSettings' default; one field, no checkbox beside
        # it, so the row is no wider than the learning rate's.
        self.clip_spin = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=1000.0, value=0.0)
        self.clip_spin.setSpecialValueText("off")
        self.clip_spin.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.clip_spin.setToolTip(
            "Gradient clipping: the largest norm of the whole gradient; a larger one is scaled "
            "down to it, keeping its direction. Tames an exploding gradient. 0 is off. "
            "Editable during training (press Enter to apply)"
        )
        self.clip_spin.setKeyboardTracking(False)  # one change per edit, not one per keystroke
        self.clip_spin.valueChanged.connect(self._clip_changed)
        self.batch_spin = QSpinBox(minimum=1, maximum=65536, value=TrainSettings.batch_size)
        self.epochs_spin = QSpinBox(minimum=1, maximum=100000, value=TrainSettings.epochs)
        # A run to watch as long as it is interesting: it ends with Stop, like a stopped run.
        self.until_stopped_check = QCheckBox("until stopped")
        self.until_stopped_check.setToolTip(
            "Train until you press Stop, however many epochs that is"
        )
        self.until_stopped_check.toggled.connect(lambda _: self._update_buttons())
        self.sample_spin = QSpinBox(minimum=0, maximum=100000, value=0)
        self.sample_spin.setToolTip(
            "The validation sample whose feature maps and gates the views show; click one in "
            "the Dataset panel. Changes apply at once during a run (press Enter after typing)"
        )
        self.sample_spin.setKeyboardTracking(False)  # one change per edit, not one per keystroke
        self.sample_spin.valueChanged.connect(self._sample_changed)
        self.device_combo = DeviceComboBox()
        # Combos as narrow as a short name: sized to their longest item ("auto (GPU if there is
        # one)") they made the form wider than the left column and scrolled it sideways.
        for combo in (self.optimizer_combo, self.device_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)

        form = QFormLayout()
        form.addRow("Dataset", self.dataset_label)
        form.addRow("Optimiser", self.optimizer_combo)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Gradient clip", self.clip_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Epochs", self.epochs_spin)
        # Its own row: beside the count it widened the form past the left column.
        form.addRow("", self.until_stopped_check)
        form.addRow("Probe sample", self.sample_spin)
        form.addRow("Device", self.device_combo)

        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Build the model and train it on the chosen dataset")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.train_button.clicked.connect(self.train_requested)
        self.pause_button.clicked.connect(self._pause_clicked)
        self.stop_button.clicked.connect(self._stop_clicked)
        buttons = QHBoxLayout()
        # Equal thirds wide enough for "Resume": the buttons never move when a label or the
        # state changes, so a click aimed at Pause lands on Pause (or Resume) in every state.
        widest = max(
            self.pause_button.fontMetrics().horizontalAdvance(t) for t in ("Resume", "Train")
        )
        for button in (self.train_button, self.pause_button, self.stop_button):
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(widest + 24)
            buttons.addWidget(button, 1)
        self._blocker: str | None = None

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("not started")
        self.progress.setValue(0)
        self.speed_label = QLabel("")
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The message has its own space of a fixed height, scrolled when longer: a long error
        # never squeezes the form or moves the buttons, and is never cut off.
        self.status_area = QScrollArea()
        self.status_area.setObjectName("trainingStatus")
        self.status_area.setWidgetResizable(True)
        self.status_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.status_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.status_area.setWidget(self.status_label)
        self.status_area.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 6)
        form_host = QWidget()
        form_host.setLayout(form)
        # The form scrolls in a short dock instead of setting the dock's (and window's) minimum.
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.form_area.setWidget(form_host)
        self.form_area.setMinimumHeight(60)

        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.speed_label)
        layout.addWidget(self.status_area)
        layout.addWidget(self.form_area, 1)
        self._update_buttons()
        self._show_idle_hint()

    # ------------------------------------------------------------ settings out

    @property
    def dataset_id(self) -> str | None:
        """The dataset shown: the model's built-in id or path."""
        return self._dataset_id

    def set_dataset(self, dataset_id: str | None) -> None:
        """Show the model's dataset: a built-in id, or a file the Dataset panel opened."""
        self._dataset_id = dataset_id
        info = BUILTIN.get(dataset_id or "")
        if info is not None:
            self.dataset_label.setText(info.title)
        else:
            self.dataset_label.setText(f"File: {Path(dataset_id).name}" if dataset_id else "—")
        self.dataset_label.setToolTip(
            f"{dataset_id or 'No dataset yet'}; choose the data in the Dataset panel"
        )
        self._refresh_idle_hint()

    def settings(self) -> dict[str, Any]:
        """The run's settings as TrainSettings fields (plain values, no torch needed here)."""
        return {
            "optimizer": self.optimizer_combo.currentData(),
            "lr": float(self.lr_spin.value()),
            "grad_clip": self.grad_clip,
            "batch_size": int(self.batch_spin.value()),
            "epochs": None if self.until_stopped_check.isChecked() else self.epochs_spin.value(),
            "device": self.device_combo.currentData(),
            "probe_sample_index": int(self.sample_spin.value()),
        }

    @property
    def grad_clip(self) -> float | None:
        """The gradient clip shown: the max gradient norm, or None when off."""
        value = float(self.clip_spin.value())
        return value if value > 0 else None

    def set_settings(self, values: dict[str, Any]) -> None:
        """Show saved settings (a project's): the keys ``settings()`` returns; others, and a
        device this machine does not have, are left as they are."""
        if "optimizer" in values:
            index = self.optimizer_combo.findData(values["optimizer"])
            if index >= 0:
                self.optimizer_combo.setCurrentIndex(index)  # before lr: it may reset lr
        if "epochs" in values:
            self.until_stopped_check.setChecked(values["epochs"] is None)
        if "grad_clip" in values:
            self.clip_spin.setValue(values["grad_clip"] or 0.0)  # None: off
        for key, spin in (
            ("lr", self.lr_spin),
            ("batch_size", self.batch_spin),
            ("epochs", self.epochs_spin),
            ("probe_sample_index", self.sample_spin),
        ):
            if values.get(key) is not None:
                spin.setValue(values[key])
        index = self.device_combo.findData(values.get("device"))
        if index >= 0:
            self.device_combo.setCurrentIndex(index)

    # ------------------------------------------------------------ run state in

    def run_requested(self) -> None:
        """Train was pressed and the dashboard is starting the run."""
        self.state = "running"
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.speed_label.setText("")  # the last run's speed, until this one's first steps
        self.show_status("Preparing the model and the data…")
        self._update_buttons()

    def run_started(self, event: RunStarted) -> None:
        self.state = "running"
        self._epochs = event.total_epochs
        self._first_step, self._steps_per_epoch = event.first_step, event.steps_per_epoch
        # Until stopped, the bar shows the epoch in progress; else the whole run.
        self._total_steps = (
            None if self._epochs is None else max(1, self._epochs * event.steps_per_epoch)
        )
        self.progress.setRange(0, self._total_steps or max(1, event.steps_per_epoch))
        self.progress.setValue(0)
        self.progress.setFormat(self._progress_text(event.first_epoch + 1, event.first_step))
        self.show_status(f"Training {event.model_name} on {event.dataset_name} ({event.device}).")
        self._update_buttons()

    def steps_received(self, steps: list[StepMetrics]) -> None:
        if not steps:
            return
        last = steps[-1]
        if self._total_steps is None:
            into_epoch = (last.step - self._first_step) % max(1, self._steps_per_epoch)
            self.progress.setValue(into_epoch or self._steps_per_epoch)
        else:
            self.progress.setValue(min(last.step, self._total_steps))
        self.progress.setFormat(self._progress_text(last.epoch, last.step))
        self.speed_label.setText(
            f"{last.samples_per_second:,.0f} samples/s · ETA {format_duration(last.eta_seconds)}"
            f" · loss {last.loss:.4g}"
        )
        if abs(last.lr - self.lr_spin.value()) > 1e-12 and not self.lr_spin.hasFocus():
            # A schedule moved the rate: show it (the run bar's copy follows) without sending
            # it back as an edit.
            self._showing_schedule = True
            try:
                self.lr_spin.setValue(last.lr)
            finally:
                self._showing_schedule = False
        self.display_changed.emit()

    def _progress_text(self, epoch: int, step: int) -> str:
        if self._total_steps is None:
            return f"epoch {epoch} · step {step} · until stopped"
        return f"epoch {epoch}/{self._epochs} · step {step}/{self._total_steps}"

    def epoch_finished(self, event: EpochMetrics) -> None:
        metric = ""
        if event.val_accuracy is not None:
            metric = f", validation accuracy {event.val_accuracy:.1%}"
        elif event.val_mae is not None:
            metric = f", validation MAE {event.val_mae:.4g}"
        self.show_status(f"Epoch {event.epoch}: validation loss {event.val_loss:.4g}{metric}.")

    @property
    def message(self) -> str:
        """The message shown under the progress bar (the run's, an error, or the idle hint)."""
        return self.status_label.text()

    @property
    def speed(self) -> str:
        """The live run's samples/s, time left and latest loss (empty before its first steps)."""
        return self.speed_label.text()

    def paused_changed(self, paused: bool) -> None:
        if self.state in ("running", "paused"):
            self.state = "paused" if paused else "running"
            self.show_status("Paused. Resume to go on, or Stop." if paused else "Training resumed.")
            self._update_buttons()

    def run_finished(self, event: Finished) -> None:
        self.state = "idle"
        how = "Stopped" if event.stopped_early else "Finished"
        self.progress.setValue(
            self._total_steps if not event.stopped_early else self.progress.value()
        )
        self.progress.setFormat(
            f"{how.lower()} after {event.epochs_done} epochs, step {event.step}"
        )
        self.show_status(
            f"{how}: {event.epochs_done} epochs in {format_duration(event.seconds)}, "
            f"{event.samples_per_second:,.0f} samples/s."
        )
        self._update_buttons()

    def run_failed(self, event: Failed | str) -> None:
        self.state = "idle"
        message = event if isinstance(event, str) else event.message
        self.progress.setFormat("failed")
        self.show_status(message, error=True)
        self._update_buttons()

    def show_status(self, text: str, error: bool = False) -> None:
        self._hinting = False  # a message about a run stays until the next one replaces it
        self.status_label.setText(text)
        if bool(self.status_label.property("error")) != error:
            # Only on a change: a style sheet re-polishes the label, and a run's status comes
            # with every batch of steps (0.1 ms each, 65 times a second for a small model).
            self.status_label.setStyleSheet("color: #b2182b; font-weight: bold;" if error else "")
            self.status_label.setProperty("error", error)
        self.display_changed.emit()

    @property
    def shows_error(self) -> bool:
        return bool(self.status_label.property("error"))

    def clear_error(self) -> None:
        """The model changed (an edit, New, Open): an error about the old one no longer holds."""
        if self.shows_error and self.state == "idle":
            self._show_idle_hint()

    def set_train_blocker(self, reason: str | None) -> None:
        """Why Train is off (the window's one rule: the model valid and fitting its data), or
        None; Train's tooltip and the idle message say it."""
        self._blocker = reason
        self._update_buttons()
        self._refresh_idle_hint()

    def idle_hint(self) -> str:
        """What pressing Train would do now, or what stops it: the message before any run."""
        if self._blocker:
            return f"Cannot train yet: {self._blocker}"
        if not self._dataset_id:
            return "Choose a dataset in the Dataset panel, then press Train."
        info = BUILTIN.get(self._dataset_id)
        name = info.title if info is not None else Path(self._dataset_id).name
        return f"Press Train to train this model on {name}."

    def _show_idle_hint(self) -> None:
        self.show_status(self.idle_hint())
        self._hinting = True  # follows the model and its dataset until a run says more

    def _refresh_idle_hint(self) -> None:
        if self.state == "idle" and self._hinting:
            self._show_idle_hint()

    # ------------------------------------------------------------ clicks

    def _pause_clicked(self) -> None:
        if self.state == "paused":
            self.resume_requested.emit()
        elif self.state == "running":
            self.pause_requested.emit()

    def _stop_clicked(self) -> None:
        if self.state in ("running", "paused"):
            self.state = "stopping"
            self.show_status("Stopping after the current step…")
            self._update_buttons()
            self.stop_requested.emit()

    def _optimizer_changed(self, _index: int) -> None:
        """A learning rate still at the old optimiser's default follows to the new one's (SGD
        wants a larger step than Adam); one the user typed is theirs and stays."""
        if self.state != "idle":
            return
        previous, self._optimizer = self._optimizer, self.optimizer_combo.currentData()
        if math.isclose(self.lr_spin.value(), DEFAULT_LR[previous]):
            self.lr_spin.setValue(DEFAULT_LR[self._optimizer])

    def _lr_changed(self, value: float) -> None:
        if self.state in ("running", "paused") and not self._showing_schedule:
            self.lr_edited.emit(float(value))

    def _clip_changed(self, _value: float) -> None:
        if self.state in ("running", "paused"):
            self.grad_clip_edited.emit(self.grad_clip)

    def _sample_changed(self, value: int) -> None:
        if self.state in ("running", "paused"):
            self.probe_sample_changed.emit(int(value))

    def _update_buttons(self) -> None:
        live = self.state in ("running", "paused")
        self.train_button.setEnabled(self.state == "idle" and self._blocker is None)
        self.train_button.setToolTip(
            f"Cannot train: {self._blocker}"
            if self._blocker
            else "Build the model and train it on the chosen dataset"
        )
        self.pause_button.setEnabled(live)
        self.pause_button.setText("Resume" if self.state == "paused" else "Pause")
        self.stop_button.setEnabled(live)
        self.controls_changed.emit()
        # The learning rate, gradient clip and probe sample stay editable: they apply to the
        # live run.
        for widget in (self.optimizer_combo, self.batch_spin, self.epochs_spin,
                       self.until_stopped_check, self.device_combo):  # fmt: skip
            widget.setEnabled(self.state == "idle")
        if self.until_stopped_check.isChecked():
            self.epochs_spin.setEnabled(False)
