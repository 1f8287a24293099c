"""The dataset panel: pick a built-in set or a file, see what it holds, and check it fits the model.

Loading runs in :class:`gui.dataset.loader.DatasetLoader`; this widget only turns the form into
a request and draws the result. A failed load leaves the previous dataset (and its selection in
the source list) in place and explains itself inline. The panel follows the document: when the
spec names a dataset (an example was opened) it loads that one, and it re-checks the model
against the loaded data on every spec change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
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

from engine.data import BUILTIN, Dataset, DatasetError, check_compatible
from engine.data.compat import describe_input, format_shape
from engine.model.spec import SpecError
from gui.dataset.loader import DatasetLoader, LoadRequest
from gui.dataset.options import OptionsForm, file_format
from gui.dataset.preview import ClassBalanceView, DatasetPreview, SamplePreviewView

_ERROR_STYLE = "color: #B00020;"
_WARN_STYLE = "color: #A0522D;"
_OK_STYLE = "color: #2E7D32;"
_FILE_FILTER = "Datasets (*.npz *.csv *.tsv *.txt *.gz *-ubyte);;All files (*)"


class DatasetPanel(QWidget):
    dataset_loaded = Signal(object)  # Dataset: a load finished and is now current
    dataset_chosen = Signal(str, dict)  # the user's choice loaded: built-in id or path, options
    load_failed = Signal(str)  # a load failed; the message shown in the panel
    sample_selected = Signal(int)  # a preview sample was clicked: its index in preview.split

    def __init__(self, document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("DatasetPanel")
        self.document = document
        self.current_dataset: Dataset | None = None
        self.current_source: tuple[str, dict[str, Any]] | None = None
        self.preview: DatasetPreview | None = None
        self.selected_sample_index: int | None = None
        self._file_path: str | None = None
        self._failed_request: LoadRequest | None = None
        self._user_requests: set[int] = set()  # serials of loads the user (not the spec) asked for
        self._followed_spec: tuple[str | None, dict] = (None, {})

        self.loader = DatasetLoader(self)
        self.loader.load_started.connect(self._on_load_started)
        self.loader.load_progressed.connect(self._on_progressed)
        self.loader.dataset_loaded.connect(self._on_loaded)
        self.loader.load_failed.connect(self._on_failed)
        self._build_ui()
        self._on_source_changed()
        # new()/open() replace the spec before they set the file path a relative dataset path is
        # read against, so following the spec waits until the event loop's next turn.
        self._follow_timer = QTimer(self, singleShot=True, interval=0)
        self._follow_timer.timeout.connect(self._follow_spec)
        document.spec_changed.connect(self._on_spec_changed)
        document.path_changed.connect(self._follow_timer.start)
        self._on_spec_changed()

    # ------------------------------------------------------------ public API

    @property
    def is_loading(self) -> bool:
        return self.loader.is_loading

    def load_builtin(self, name: str, options: dict[str, Any] | None = None) -> None:
        """Load built-in ``name`` as if the user had picked it (the form shows ``options``)."""
        self._select_builtin(name)
        if options is not None:
            self.options_form.set_values(options)
        self._request_from_form()

    def load_path(self, path: str | Path, options: dict[str, Any] | None = None) -> None:
        """Load a file or folder as if the user had opened it."""
        self._set_file_entry(str(path))
        if options is not None:
            self.options_form.set_values(options)
        self._request_from_form()

    def reload(self) -> None:
        """Load what the form shows now (the Load button)."""
        self._request_from_form()

    def compatibility_messages(self) -> list[str]:
        """What does not fit between the document's model and the loaded dataset."""
        if self.current_dataset is None:
            return []
        spec, inference = self.document.spec, self.document.inference
        out = inference.output_shape
        num_outputs = int(out[-1]) if out else None
        return check_compatible(self.current_dataset, spec.input.shape, num_outputs)

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
        self.fix_input_button.setToolTip("Change the model's Input block (one undoable edit)")
        self.fix_input_button.clicked.connect(self._fix_model_input)
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

    def _selected_source(self) -> str | None:
        data = self.source_combo.currentData()
        return data if data is not None else self._file_path

    def _on_source_changed(self, _index: int | None = None) -> None:
        key = self.source_combo.currentData()
        if key is not None:
            info = BUILTIN[key]
            self.description.setText(info.description)
            self.options_form.show_builtin(info)
        elif self._file_path is not None:
            fmt = file_format(Path(self._file_path))
            self.description.setText(self._file_path)
            self.options_form.show_file(fmt)

    def _select_builtin(self, name: str) -> None:
        index = self.source_combo.findData(name)
        if index < 0:
            raise KeyError(f"no built-in dataset {name!r}")
        self.source_combo.setCurrentIndex(index)

    def _set_file_entry(self, path: str) -> None:
        """Show ``path`` as the last entry of the source list and select it."""
        self._file_path = path
        label = f"File: {Path(path).name or path}"
        last = len(BUILTIN)  # the one file entry sits after the built-ins
        if self.source_combo.count() > last:
            self.source_combo.setItemText(last, label)
        else:
            self.source_combo.addItem(label, None)
        self.source_combo.setItemData(last, path, Qt.ItemDataRole.ToolTipRole)
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

    def _show_source(self, source: str, options: dict[str, Any]) -> None:
        """Put the form back to ``source`` without loading (after a failure, or to follow the spec)."""
        self.source_combo.blockSignals(True)
        try:
            if source in BUILTIN:
                self._select_builtin(source)
            else:
                self._set_file_entry(source)
        finally:
            self.source_combo.blockSignals(False)
        self._on_source_changed()
        self.options_form.set_values(options)

    # ------------------------------------------------------------ loading

    def _request_from_form(self) -> None:
        source = self._selected_source()
        if source is None:
            return
        request = self.loader.load(source, self.options_form.values())
        self._user_requests.add(request.serial)

    def _load_skipping_corrupt(self) -> None:
        failed = self._failed_request
        if failed is not None:
            request = self.loader.load(failed.source, {**failed.options, "skip_corrupt": True})
            if failed.serial in self._user_requests:
                self._user_requests.add(request.serial)

    def _on_load_started(self, request: LoadRequest) -> None:
        self.progress.setRange(0, 0)  # busy until the loader reports a fraction
        self.progress.show()
        self._set_message(f"Loading {self._title(request.source)}…", "")
        self.skip_button.hide()

    def _on_progressed(self, fraction: float) -> None:
        if fraction < 1.0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))

    def _on_loaded(self, request: LoadRequest, dataset: Dataset, preview: DatasetPreview) -> None:
        self.progress.hide()
        self._failed_request = None
        self.current_dataset, self.preview = dataset, preview
        self.current_source = (request.source, dict(request.options))
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
        if request.serial in self._user_requests:
            self.dataset_chosen.emit(request.source, dict(request.options))
        self._user_requests.discard(request.serial)

    def _on_failed(self, request: LoadRequest, error: DatasetError) -> None:
        self.progress.hide()
        self._user_requests.discard(request.serial)
        self._failed_request = request
        self._set_message(str(error), _ERROR_STYLE)
        n = len(error.skippable)
        if n and not request.options.get("skip_corrupt"):
            self.skip_button.setText(f"Skip {n} unreadable image{'s' * (n != 1)} and load the rest")
            self.skip_button.show()
        if self.current_source is not None:
            self._show_source(*self.current_source)  # the previous dataset stays selected
        self.load_failed.emit(str(error))

    def _set_message(self, text: str, style: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(style)
        self.message.setVisible(bool(text))

    def _title(self, source: str) -> str:
        info = BUILTIN.get(source)
        return info.title if info else f"'{Path(source).name or source}'"

    def _describe(self, ds: Dataset) -> str:
        kind = {"classification": f"{ds.num_outputs} classes", "regression": "regression"}
        task = kind.get(ds.task, "forecasting")
        return (
            f"<b>{self._title(ds.source or ds.name)}</b>: {describe_input(ds)}, {task}.<br>"
            f"{ds.num_train:,} training and {ds.num_val:,} validation samples."
        )

    # ------------------------------------------------------------ model/dataset link

    def _on_spec_changed(self) -> None:
        self._refresh_compatibility()
        self._follow_timer.start()

    def _follow_spec(self) -> None:
        """Load the dataset the spec names, once per change of that name or its options."""
        spec = self.document.spec
        source = self._resolve(spec.dataset) if spec.dataset else None
        wanted = (source, dict(spec.dataset_options))
        # spec_changed fires on every edit; only a change of the spec's dataset is a request.
        if wanted == self._followed_spec:
            return
        self._followed_spec = wanted
        if source is not None and self.current_source != wanted:
            self._show_source(*wanted)
            self.loader.load(*wanted)

    def _resolve(self, name: str) -> str:
        """A relative dataset path in a model file is relative to that file's folder."""
        if name in BUILTIN or Path(name).expanduser().is_absolute() or self.document.path is None:
            return name
        return str(Path(self.document.path).parent / name)

    def _refresh_compatibility(self) -> None:
        ds = self.current_dataset
        messages = self.compatibility_messages()
        if ds is None:
            self.compat_label.hide()
            self.fix_input_button.hide()
            return
        if messages:
            self.compat_label.setText("\n".join(messages))
            self.compat_label.setStyleSheet(_WARN_STYLE)
        else:
            self.compat_label.setText("The model fits this dataset.")
            self.compat_label.setStyleSheet(_OK_STYLE)
        self.compat_label.show()
        spec_input = self.document.spec.input
        wrong = (spec_input.kind, tuple(spec_input.shape)) != (ds.input_kind, ds.input_shape)
        self.fix_input_button.setText(f"Set the model's input to {format_shape(ds.input_shape)}")
        self.fix_input_button.setVisible(wrong)

    def _fix_model_input(self) -> None:
        ds = self.current_dataset
        if ds is None:
            return
        try:
            self.document.set_input(ds.input_kind, ds.input_shape)
        except SpecError as exc:  # e.g. a shape beyond the Input block's bounds
            self._set_message(str(exc), _ERROR_STYLE)

    def _on_sample_clicked(self, index: int) -> None:
        self.selected_sample_index = index
        self.sample_selected.emit(index)
