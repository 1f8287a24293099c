"""The window's one dataset session: the Dataset panel picks, Train uses, both see one load.

It follows the document: when the spec names a dataset (a model or an example was opened) it
loads that one, reading a relative path next to the model file. Loading runs on a pool thread
around the engine's loaders, which report progress through a callback; results come back as
queued signals. Only the newest request counts: an older load stops at its next progress
report (the engine aborts a load when the progress callback raises), and whatever it still
delivers is dropped, so a slow file can never overwrite a later choice.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from engine.data import Dataset, DatasetError, DatasetSession, DataSource
from gui.dataset.preview import DatasetPreview, make_preview


class _Superseded(Exception):
    """Raised from the progress callback to stop a load nobody is waiting for any more.

    Deliberately not a DatasetError/OSError/ValueError: the engine's loaders turn those into
    user messages, and this must pass through them untouched."""


class _JobSignals(QObject):
    # Emitted from the pool thread; the session lives in the GUI thread, so delivery is queued.
    progressed = Signal(int, float)
    succeeded = Signal(int, object, object)  # serial, Dataset, DatasetPreview
    failed = Signal(int, object)  # serial, DatasetError


class _LoadJob(QRunnable):
    def __init__(self, source: DataSource, serial: int, state: DatasetSession, signals):
        super().__init__()
        self.source, self.serial = source, serial
        # Only the engine session (plain Python, thread-safe) is used from this thread, never a
        # Qt object's state, so this stays valid after the widgets are gone.
        self.state = state
        # The runnable holds the only strong reference to its signals object, so emitting stays
        # safe even if the window that asked for the load has been closed meanwhile.
        self.signals = signals

    def run(self) -> None:
        try:
            dataset = self.source.load(progress=self._progress)
            # The preview (tiles, curves, class counts) is array work too: done here, not in paint.
            preview = make_preview(dataset)
        except _Superseded:
            pass
        except DatasetError as exc:
            self._emit(self.signals.failed, self.serial, exc)
        # Anything else is a bug in a loader; it must still reach the user as a message instead
        # of dying silently in a pool thread and leaving the panel saying "Loading…" forever.
        except Exception as exc:  # noqa: BLE001
            where = self.source.location
            message = f"Loading '{where}' failed unexpectedly: {type(exc).__name__}: {exc}"
            self._emit(self.signals.failed, self.serial, DatasetError(message, path=where))
        else:
            self._emit(self.signals.succeeded, self.serial, dataset, preview)
        finally:
            # Straight from this thread, not via a queued signal: wait() blocks the GUI thread,
            # which could then never deliver it.
            self.state.returned(self.serial)

    def _progress(self, fraction: float) -> None:
        if not self.state.is_current(self.serial):
            raise _Superseded
        if not self._emit(self.signals.progressed, self.serial, float(fraction)):
            raise _Superseded

    @staticmethod
    def _emit(signal, *args) -> bool:
        """Emit, unless the application is already shutting down (its objects are deleted);
        then there is nobody left to tell, and the load simply ends."""
        try:
            signal.emit(*args)
        except RuntimeError:
            return False
        return True


class WindowDatasetSession(QObject):
    """The dataset the window trains on: its source, the loaded data and the load under way."""

    load_started = Signal(object, bool)  # DataSource, chosen by the user (not followed)
    load_progressed = Signal(float)  # 0..1
    dataset_loaded = Signal(object, object, object)  # DataSource, Dataset, DatasetPreview
    load_failed = Signal(object, object)  # DataSource, DatasetError
    # A load the user asked for finished: the source's name as written, and its options.
    dataset_chosen = Signal(str, dict)

    def __init__(self, document, parent: QObject | None = None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self.document = document
        self.state = DatasetSession()
        self.preview: DatasetPreview | None = None
        # The global pool outlives any window, so a load still running when its window closes
        # finishes harmlessly instead of a QThread being destroyed while it runs.
        self._pool = pool or QThreadPool.globalInstance()
        self._chosen: set[int] = set()  # serials of loads the user (not the spec) asked for
        self._seen: tuple | None = None  # the spec's dataset, options and the model's path
        # new()/open() replace the spec before they set the file path a relative dataset path
        # is read against, so following the spec waits until the event loop's next turn.
        self._follow_timer = QTimer(self, singleShot=True, interval=0)
        self._follow_timer.timeout.connect(self.follow_spec)
        document.spec_changed.connect(self._document_changed)
        document.path_changed.connect(self._document_changed)
        self._document_changed()

    # ------------------------------------------------------------ state

    @property
    def source(self) -> DataSource | None:
        """The loaded dataset's source."""
        return self.state.source

    @property
    def dataset(self) -> Dataset | None:
        return self.state.dataset

    @property
    def is_loading(self) -> bool:
        return self.state.is_loading

    def spec_source(self) -> DataSource | None:
        """The dataset the document's model names, read next to its file."""
        return DataSource.for_model(self.document.spec, self.document.path)

    def training_source(self) -> DataSource | None:
        """What Train trains on: the model's dataset, else the one loaded here."""
        return self.spec_source() or self.source

    # ------------------------------------------------------------ loading

    def load(self, source: DataSource, *, chosen: bool = False) -> None:
        """Load ``source`` in the background; it supersedes any load under way. ``chosen``:
        the user picked it, so it becomes the model's dataset once it has loaded."""
        serial = self.state.begin(source)
        if chosen:
            self._chosen.add(serial)
        signals = _JobSignals()
        signals.progressed.connect(self._on_progressed)
        signals.succeeded.connect(self._on_succeeded)
        signals.failed.connect(self._on_failed)
        self.load_started.emit(source, chosen)
        self._pool.start(_LoadJob(source, serial, self.state, signals))

    def ensure_loaded(self, source: DataSource) -> Dataset | None:
        """The dataset of ``source`` if it is loaded; else start loading it (unless it already
        is loading) and return None: ``dataset_loaded`` or ``load_failed`` follows."""
        loaded = self.state.dataset_for(source)
        if loaded is None and not source.same_data(self.state.loading):
            self.load(source)
        return loaded

    def _document_changed(self) -> None:
        # spec_changed fires on every edit; only a change of the spec's dataset (or of the
        # folder it is read from) is a request. Noted at once, so an edit undone before the
        # event loop turns is still seen.
        spec = self.document.spec
        seen = (spec.dataset, dict(spec.dataset_options), self.document.path)
        if seen != self._seen:
            self._seen = seen
            self._follow_timer.start()

    def follow_spec(self) -> None:
        """Load the dataset the spec names, unless it is loaded or loading already."""
        wanted = self.spec_source()
        if wanted is not None:
            self.ensure_loaded(wanted)

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Block until every started load has returned (tests and shutdown); False on timeout.

        Results still arrive as queued signals afterwards, when the event loop runs."""
        return self.state.wait_idle(timeout_s)

    def _on_progressed(self, serial: int, fraction: float) -> None:
        if self.state.is_current(serial):
            self.load_progressed.emit(fraction)

    def _on_succeeded(self, serial: int, dataset: Dataset, preview: DatasetPreview) -> None:
        chosen = serial in self._chosen
        self._chosen.discard(serial)
        if self.state.finish(serial, dataset):
            self.preview = preview
            source = self.state.source
            self.dataset_loaded.emit(source, dataset, preview)
            if chosen:
                self.dataset_chosen.emit(source.name, dict(source.options))

    def _on_failed(self, serial: int, error: DatasetError) -> None:
        self._chosen.discard(serial)
        source = self.state.loading
        if self.state.fail(serial, error):
            self.load_failed.emit(source, error)
