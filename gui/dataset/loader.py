"""Loading a dataset off the GUI thread: one thin Qt worker around ``engine.data``'s loaders.

The engine function does the work and reports progress through a callback; this module only
moves that onto a pool thread and brings the result back as queued signals. Only the newest
request counts: asking for another dataset while one loads makes the older load stop at its next
progress report (the engine aborts a load when the progress callback raises), and whatever an
older load still delivers is dropped, so a slow file can never overwrite a later choice.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.data import BUILTIN, Dataset, DatasetError, load_builtin, load_file
from gui.dataset.preview import DatasetPreview, make_preview


@dataclass(frozen=True)
class LoadRequest:
    """What to load: a built-in id or a path, the loader options, and a serial number."""

    source: str
    options: dict[str, Any] = field(default_factory=dict)
    serial: int = 0

    @property
    def label(self) -> str:
        return self.source


class _Superseded(Exception):
    """Raised from the progress callback to stop a load nobody is waiting for any more.

    Deliberately not a DatasetError/OSError/ValueError: the engine's loaders turn those into
    user messages, and this must pass through them untouched."""


class _JobSignals(QObject):
    # Emitted from the pool thread; the loader lives in the GUI thread, so delivery is queued.
    progressed = Signal(int, float)
    succeeded = Signal(int, object, object)  # serial, Dataset, DatasetPreview
    failed = Signal(int, object)  # serial, DatasetError


class _LoadJob(QRunnable):
    def __init__(self, request: LoadRequest, loader: DatasetLoader, signals: _JobSignals):
        super().__init__()
        self.request = request
        # Only the loader's plain-Python bookkeeping (a lock and a set) is used from this
        # thread, never its Qt side, so this stays valid after the loader's widget is gone.
        self._is_current = loader._is_current
        self._job_returned = loader._job_returned
        # The runnable holds the only strong reference to its signals object, so emitting stays
        # safe even if the panel that asked for the load has been closed meanwhile.
        self.signals = signals

    def run(self) -> None:
        serial = self.request.serial
        try:
            # A source that is not a built-in id is a path: load_file's "does not exist" names
            # it as a file, where load_dataset would call it an unknown dataset name.
            load = load_builtin if self.request.source in BUILTIN else load_file
            dataset = load(self.request.source, progress=self._progress, **self.request.options)
            # The preview (tiles, curves, class counts) is array work too: done here, not in paint.
            preview = make_preview(dataset)
        except _Superseded:
            pass
        except DatasetError as exc:
            self._emit(self.signals.failed, serial, exc)
        # Anything else is a bug in a loader; it must still reach the user as a message instead
        # of dying silently in a pool thread and leaving the panel saying "Loading…" forever.
        except Exception as exc:  # noqa: BLE001
            message = (
                f"Loading '{self.request.source}' failed unexpectedly: {type(exc).__name__}: {exc}"
            )
            self._emit(self.signals.failed, serial, DatasetError(message, path=self.request.source))
        else:
            self._emit(self.signals.succeeded, serial, dataset, preview)
        finally:
            # Straight from this thread, not via a queued signal: wait() blocks the GUI thread,
            # which could then never deliver it.
            self._job_returned(serial)

    def _progress(self, fraction: float) -> None:
        if not self._is_current(self.request.serial):
            raise _Superseded
        if not self._emit(self.signals.progressed, self.request.serial, float(fraction)):
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


class DatasetLoader(QObject):
    """Loads one dataset at a time in the background; signals report only the newest request."""

    load_started = Signal(object)  # LoadRequest
    load_progressed = Signal(float)  # 0..1
    dataset_loaded = Signal(object, object, object)  # LoadRequest, Dataset, DatasetPreview
    load_failed = Signal(object, object)  # LoadRequest, DatasetError

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None):
        super().__init__(parent)
        # The global pool outlives any panel, so a load still running when its panel closes
        # finishes harmlessly instead of a QThread being destroyed while it runs.
        self._pool = pool or QThreadPool.globalInstance()
        self._serials = itertools.count(1)
        self._lock = threading.Lock()
        self._current = 0
        self._request: LoadRequest | None = None
        self._running: set[int] = set()
        self._done = threading.Condition(self._lock)

    @property
    def is_loading(self) -> bool:
        return self._request is not None

    @property
    def pending_request(self) -> LoadRequest | None:
        """The request being loaded now, or None when idle."""
        return self._request

    def load(self, source: str, options: dict[str, Any] | None = None) -> LoadRequest:
        request = LoadRequest(str(source), dict(options or {}), next(self._serials))
        with self._lock:
            self._current = request.serial
            self._running.add(request.serial)
        self._request = request
        signals = _JobSignals()
        signals.progressed.connect(self._on_progressed)
        signals.succeeded.connect(self._on_succeeded)
        signals.failed.connect(self._on_failed)
        self.load_started.emit(request)
        self._pool.start(_LoadJob(request, self, signals))
        return request

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Block until every started load has returned (tests and shutdown); False on timeout.

        Results still arrive as queued signals afterwards, when the event loop runs."""
        with self._done:
            return self._done.wait_for(lambda: not self._running, timeout_s)

    def _is_current(self, serial: int) -> bool:
        with self._lock:
            return serial == self._current

    def _current_request(self, serial: int) -> LoadRequest | None:
        request = self._request
        return request if request is not None and request.serial == serial else None

    def _on_progressed(self, serial: int, fraction: float) -> None:
        if self._current_request(serial) is not None:
            self.load_progressed.emit(fraction)

    def _on_succeeded(self, serial: int, dataset: Dataset, preview: DatasetPreview) -> None:
        request = self._current_request(serial)
        if request is not None:
            self._request = None
            self.dataset_loaded.emit(request, dataset, preview)

    def _on_failed(self, serial: int, error: DatasetError) -> None:
        request = self._current_request(serial)
        if request is not None:
            self._request = None
            self.load_failed.emit(request, error)

    def _job_returned(self, serial: int) -> None:
        with self._done:
            self._running.discard(serial)
            self._done.notify_all()
