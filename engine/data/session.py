"""Which dataset a model trains on, and which one is loaded: shared by the window and the CLI.

A :class:`DataSource` is a built-in id or a path with its loader options. A relative path in a
model file is read from the model file's folder, wherever the program was started; the
spec's options belong to the spec's own dataset only. :class:`DatasetSession` keeps the loaded
dataset and the load under way, so that only the newest request counts.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .builtin import BUILTIN, load_builtin
from .dataset import Dataset
from .errors import DatasetError
from .loaders import load_dataset


@dataclass(frozen=True)
class DataSource:
    """A built-in id or a path (as written), its loader options, and the folder a relative path
    is read from (None: the current folder, as for a path typed on the command line)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None

    @classmethod
    def for_model(
        cls, spec, model_path: str | Path | None = None, name: str | None = None
    ) -> DataSource | None:
        """The dataset ``spec`` trains on, read next to ``model_path``; or ``name`` instead,
        which gets the spec's options only when it is the spec's own dataset."""
        folder = Path(model_path).parent if model_path is not None else None
        if name is None:
            if not spec.dataset:
                return None
            return cls(spec.dataset, dict(spec.dataset_options), folder)
        options = dict(spec.dataset_options) if name == spec.dataset else {}
        return cls(str(name), options)

    @classmethod
    def of(
        cls, source: DataSource | str, spec=None, options: dict[str, Any] | None = None
    ) -> DataSource:
        """``source`` as a DataSource: a name gets ``options``, or else the spec's options when
        it is the spec's dataset."""
        if isinstance(source, DataSource):
            return source
        if options:
            return cls(str(source), dict(options))
        if spec is not None:
            return cls.for_model(spec, name=str(source))
        return cls(str(source))

    @property
    def is_builtin(self) -> bool:
        return self.name in BUILTIN

    @property
    def location(self) -> str:
        """The built-in id, or the path to read."""
        if self.is_builtin:
            return self.name
        path = Path(self.name).expanduser()
        if not path.is_absolute() and self.folder is not None:
            path = self.folder / path
        return str(path)

    @property
    def title(self) -> str:
        info = BUILTIN.get(self.name)
        return info.title if info else f"'{Path(self.location).name or self.location}'"

    def same_data(self, other: DataSource | None) -> bool:
        """True when ``other`` loads the same data (a relative and an absolute path may)."""
        return other is not None and (self.location, self.options) == (
            other.location,
            other.options,
        )

    def with_options(self, **extra: Any) -> DataSource:
        return DataSource(self.name, {**self.options, **extra}, self.folder)

    def load(self, progress: Callable[[float], None] | None = None) -> Dataset:
        """Load it (may take seconds; ``progress`` gets 0..1 and may raise to abort)."""
        if self.is_builtin:
            return load_builtin(self.name, progress=progress, **self.options)
        return load_dataset(self.location, progress=progress, **self.options)


class DatasetSession:
    """The loaded dataset, its source, and the load under way. Thread-safe: a load running in
    another thread asks ``is_current`` whether anyone still wants it."""

    def __init__(self) -> None:
        self._serials = itertools.count(1)
        self._lock = threading.Condition()
        self._current = 0
        self._running: set[int] = set()
        self.loading: DataSource | None = None  # the newest request, until it ends
        self.source: DataSource | None = None  # the loaded dataset's source
        self.dataset: Dataset | None = None
        self.error: DatasetError | None = None  # why the newest request failed, if it did

    @property
    def is_loading(self) -> bool:
        return self.loading is not None

    def dataset_for(self, source: DataSource) -> Dataset | None:
        """The loaded dataset if it is ``source``'s data, else None."""
        return self.dataset if source.same_data(self.source) else None

    def begin(self, source: DataSource) -> int:
        """A new request; it supersedes any earlier one. Returns its serial number."""
        with self._lock:
            serial = next(self._serials)
            self._current = serial
            self._running.add(serial)
        self.loading, self.error = source, None
        return serial

    def is_current(self, serial: int) -> bool:
        with self._lock:
            return serial == self._current

    def finish(self, serial: int, dataset: Dataset) -> bool:
        """Keep ``dataset`` if request ``serial`` is still the newest; True when it was."""
        if not self.is_current(serial) or self.loading is None:
            return False
        self.source, self.dataset, self.loading = self.loading, dataset, None
        return True

    def fail(self, serial: int, error: DatasetError) -> bool:
        """Request ``serial`` failed; the loaded dataset stays. True when it was the newest."""
        if not self.is_current(serial) or self.loading is None:
            return False
        self.error, self.loading = error, None
        return True

    def returned(self, serial: int) -> None:
        """The load of ``serial`` has ended, however (called from its thread)."""
        with self._lock:
            self._running.discard(serial)
            self._lock.notify_all()

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Block until every started load has returned; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._running, timeout_s)
