"""The dataset panel: pick a built-in set or a file, see what it holds, and check it fits the model.

The window's dataset session (:mod:`gui.dataset.session`) loads and follows the document; this
widget only turns the form into a request and draws whatever the session loads, whoever asked
for it. A failed load leaves the previous dataset (and its selection in the source list) in
place and explains itself inline. The panel re-checks the model against the loaded data on
every spec change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.data import BUILTIN, DataFit, Dataset, DatasetError, DataSource
from engine.data.compat import describe_input
from engine.model.params import ParamError
from engine.model.spec import SpecError
from gui.dataset.options import OptionsForm
from gui.dataset.preview import ClassBalanceView, DatasetPreview, SamplePreviewView
from gui.dataset.session import WindowDatasetSession
from gui.editor.readiness import TrainReadiness

_ERROR_STYLE = "color: #B00020;"
_WARN_STYLE = "color: #A0522D;"
_OK_STYLE = "color: #2E7D32;"
_FILE_FILTER = "Datasets (*.npz *.csv *.tsv *.txt *.gz *-ubyte);;All files (*)"


class DatasetPanel(QWidget):
    dataset_loaded = Signal(object)  # Dataset: a load finished and is now current
    load_failed = Signal(str)  # a load failed; the message shown in the panel
    sample_selected = Signal(int)  # a preview sample was clicked: its index in preview.split

    def __init__(
        self, document, session: WindowDatasetSession | None = None, parent=None, readiness=None
    ):
        super().__init__(parent)

        self.setObjectName("DatasetPanel")
        self.document = document
        self.session = session or WindowDatasetSession(document, self)
        # The window's TrainReadiness, the one place model and data are checked together (a
        # panel on its own makes one on its session).
        if readiness is None:
            readiness = TrainReadiness(document, self)
            readiness.follow_dataset(self.session)
        self.readiness = readiness
        self.selected_sample_index: int | None = None
        self._file_source: DataSource | None = None  # the file entry: name as written, folder
        self._failed: tuple[DataSource, bool] | None = None  # source, chosen by the user
        self._loading_chosen = False

        self.session.load_started.connect(self._on_load_started)
        self.session.load_progressed.connect(self._on_progressed)
        self.session.dataset_loaded.connect(self._on_loaded)
        self.session.load_failed.connect(self._on_failed)
        self._build_ui()
        self._on_source_changed()
        # It re-checks on every edit and load before telling us.
        readiness.changed.connect(self._refresh_compatibility)
        if self.session.dataset is not None:  # loaded before the panel was made
            self._on_loaded(self.session.source, self.session.dataset, self.session.preview)

    # ------------------------------------------------------------ public API

    @property
    def current_dataset(self) -> Dataset | None:
        return self.session.dataset

    @property
    def preview(self) -> DatasetPreview | None:
        return self.session.preview

    @property
    def is_loading(self) -> bool:
        return self.session.is_loading

    def load_builtin(self, name: str, options: dict[str, Any] | None = None) -> None:
        """Load built-in ``name`` as if the user had picked it (the form shows ``options``)."""
        self._select_builtin(name)
        if options is not None:
            self.options_form.set_values(options)
        self._request_from_form()

    def load_path(self, path: str | Path, options: dict[str, Any] | None = None) -> None:
        """Load a file or folder as if the user had opened it."""
        self._set_file_entry(DataSource(str(path)))
        if options is not None:
            self.options_form.set_values(options)
        self._request_from_form()

    def reload(self) -> None:
        """Load what the form shows now (the Load button)."""
        self._request_from_form()

    def data_fit(self) -> DataFit:
        """How the document's model stands against the loaded dataset, and its Fix."""
        return self.readiness.data_fit

    def compatibility_messages(self) -> list[str]:
        """What does not fit between the document's model and the loaded dataset."""
        return list(self.data_fit().messages)

    # ------------------------------------------------------------ building

    def _build_ui(self) -> None:
        self.source_combo = QComboBox()
        self.source_combo.setToolTip("A built-in dataset, or the file or folder you opened")
        for info in BUILTIN.values():
            self.source_combo.addItem(info.title, info.id)
            self.source_combo.setItemData(
                self.source_combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole
            )
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self.source_combo.activated.connect(lambda _i: self._request_from_form())
        self.description = QLabel(wordWrap=True)
        self.description.setStyleSheet("color: #555;")

        self.open_file_button = QPushButton("Open file…")
        self.open_file_button.setToolTip("A .npz, .csv or MNIST-format IDX file (raw or .gz)")
        self.open_file_button.clicked.connect(self._ask_file)
        self.open_folder_button = QPushButton("Open folder…")
        self.open_folder_button.setToolTip(
            "A folder of MNIST-format IDX files, or one with a sub-folder of images per class"
        )
        self.open_folder_button.clicked.connect(self._ask_folder)
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Load the chosen dataset with these options")
        self.load_button.clicked.connect(self.reload)
        self.options_form = OptionsForm()

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.message = QLabel(wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.skip_button = QPushButton()
        self.skip_button.clicked.connect(self._load_skipping_corrupt)
        self.skip_button.hide()

        self.summary = QLabel("No dataset loaded yet.", wordWrap=True)
        self.compat_label = QLabel(wordWrap=True)
        self.fix_input_button = QPushButton()
        self.fix_input_button.setToolTip(
            "Make the model fit this dataset, keeping it valid (one undoable edit)"
        )
        self.fix_input_button.clicked.connect(self._fix_model)
        self.fix_input_button.hide()

        self.class_balance = ClassBalanceView()
        self.sample_view = SamplePreviewView()
        self.sample_view.sample_clicked.connect(self._on_sample_clicked)

        files = QHBoxLayout()
        files.addWidget(self.open_file_button)
        files.addWidget(self.open_folder_button)
        files.addStretch(1)
        files.addWidget(self.load_button)
        form = QFormLayout()
        form.addRow("Dataset", self.source_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.description)
        layout.addWidget(self.options_form)
        layout.addLayout(files)
        for widget in (self.progress, self.message, self.skip_button, self.summary):
            layout.addWidget(widget)
        layout.addWidget(self.compat_label)
        layout.addWidget(self.fix_input_button)
        layout.addWidget(self.class_balance, 1)
        layout.addWidget(self.sample_view, 2)

    # ------------------------------------------------------------ choosing a source

    def _selected_source(self) -> DataSource | None:
        key = self.source_combo.currentData()
        options = self.options_form.values()
        if key is not None:
            return DataSource(key, options)
        if self._file_source is None:
            return None
        # The name as written (maybe relative to the model file) stays, so the model keeps it.
        return DataSource(self._file_source.name, options, self._file_source.folder)

    def _on_source_changed(self, _index: int | None = None) -> None:
        key = self.source_combo.currentData()
        if key is not None:
            info = BUILTIN[key]
            self.description.setText(info.description)
            self.options_form.show_builtin(info)
        elif self._file_source is not None:
            location = self._file_source.location
            self.description.setText(location)
            self.options_form.show_file(Path(location))

    def _select_builtin(self, name: str) -> None:
        index = self.source_combo.findData(name)
        if index < 0:
            raise KeyError(f"no built-in dataset {name!r}")
        self.source_combo.setCurrentIndex(index)

    def _set_file_entry(self, source: DataSource) -> None:
        """Show ``source`` as the last entry of the source list and select it."""
        self._file_source = source
        location = source.location
        label = f"File: {Path(location).name or location}"
        last = len(BUILTIN)  # the one file entry sits after the built-ins
        if self.source_combo.count() > last:
            self.source_combo.setItemText(last, label)
        else:
            self.source_combo.addItem(label, None)
        self.source_combo.setItemData(last, location, Qt.ItemDataRole.ToolTipRole)
        if self.source_combo.currentIndex() == last:
            self._on_source_changed()  # same entry, new path: the form depends on the format
        else:
            self.source_combo.setCurrentIndex(last)

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open dataset file", "", _FILE_FILTER)
        if path:
            self.load_path(path)

    def _ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open dataset folder")
        if path:
            self.load_path(path)

    def _show_source(self, source: DataSource) -> None:
        """Put the form back to ``source`` without loading (after a failure, or a load the
        user did not ask for here: the model's own dataset)."""
        self.source_combo.blockSignals(True)
        try:
            if source.is_builtin:
                self._select_builtin(source.name)
            else:
                self._set_file_entry(source)
        finally:
            self.source_combo.blockSignals(False)
        self._on_source_changed()
        self.options_form.set_values(source.options)

    # ------------------------------------------------------------ loading

    def _request_from_form(self) -> None:
        source = self._selected_source()
        if source is not None:
            self.session.load(source, chosen=True)

    def _load_skipping_corrupt(self) -> None:
        if self._failed is not None:
            source, chosen = self._failed
            self.session.load(source.with_options(skip_corrupt=True), chosen=chosen)

    def _on_load_started(self, source: DataSource, chosen: bool) -> None:
        self._loading_chosen = chosen
        if not chosen:
            self._show_source(source)
        self.progress.setRange(0, 0)  # busy until the loader reports a fraction
        self.progress.show()
        self._set_message(f"Loading {source.title}…", "")
        self.skip_button.hide()

    def _on_progressed(self, fraction: float) -> None:
        if fraction < 1.0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))

    def _on_loaded(self, _source: DataSource, dataset: Dataset, preview: DatasetPreview) -> None:
        self.progress.hide()
        self._failed = None
        skipped = len(dataset.skipped)
        note = f"{skipped} unreadable image{'s' * (skipped != 1)} skipped." if skipped else ""
        self._set_message(note, _WARN_STYLE)
        self.summary.setText(self._describe(dataset))
        self.class_balance.setVisible(dataset.class_names is not None)
        self.class_balance.show_counts(
            dataset.class_names, preview.train_counts, preview.val_counts
        )
        self.sample_view.show_preview(preview)
        self.selected_sample_index = None
        self._refresh_compatibility()
        self.dataset_loaded.emit(dataset)

    def _on_failed(self, source: DataSource, error: DatasetError) -> None:
        self.progress.hide()
        self._failed = (source, self._loading_chosen)
        self._set_message(str(error), _ERROR_STYLE)
        n = len(error.skippable)
        if n and not source.options.get("skip_corrupt"):
            self.skip_button.setText(f"Skip {n} unreadable image{'s' * (n != 1)} and load the rest")
            self.skip_button.show()
        if self.session.source is not None:
            self._show_source(self.session.source)  # the previous dataset stays selected
        self.load_failed.emit(str(error))

    def _set_message(self, text: str, style: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(style)
        self.message.setVisible(bool(text))

    def _describe(self, ds: Dataset) -> str:
        kind = {"classification": f"{ds.num_outputs} classes", "regression": "regression"}
        task = kind.get(ds.task, "forecasting")
        return (
            f"<b>{DataSource(ds.source or ds.name).title}</b>: {describe_input(ds)}, {task}.<br>"
            f"{ds.num_train:,} training and {ds.num_val:,} validation samples."
        )

    # ------------------------------------------------------------ model/dataset link

    def _refresh_compatibility(self) -> None:
        ds = self.current_dataset
        fit = self.data_fit()
        messages = fit.messages
        if ds is None:
            self.compat_label.hide()
            self.fix_input_button.hide()
            return
        if not self.document.spec.blocks:
            self.compat_label.setText(
                f"The model has no blocks yet — add some from the palette; then it is checked "
                f"against '{ds.name}'."
            )
            self.compat_label.setStyleSheet(_WARN_STYLE)
        elif messages:
            self.compat_label.setText("\n".join(messages))
            self.compat_label.setStyleSheet(_WARN_STYLE)
        else:
            self.compat_label.setText("The model fits this dataset.")
            self.compat_label.setStyleSheet(_OK_STYLE)
        self.compat_label.show()
        self.fix_input_button.setText(f"Fix: {fit.fix_label}" if fit.fix_label else "")
        self.fix_input_button.setVisible(fit.fixed_spec is not None)

    def _fix_model(self) -> None:
        try:
            self.readiness.apply_data_fix()
        except (SpecError, ParamError) as exc:  # e.g. a shape beyond the Input block's bounds
            self._set_message(str(exc), _ERROR_STYLE)

    def _on_sample_clicked(self, index: int) -> None:
        self.selected_sample_index = index
        self.sample_selected.emit(index)
