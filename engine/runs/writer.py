"""The one thread that writes a run folder: the recorder hands it work in order and goes on
training while the files are written.

Each piece of work is a function with arguments nobody changes afterwards (CPU copies of
tensors, frozen events, read-only arrays, dicts the recorder replaces rather than edits). The
thread runs them in the order they came. The first write that fails stops the writing: the
rest of the queue is dropped, ``problem`` says why as a sentence, and the training goes on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.runs.folder import RunFolderError

# Work waiting to be written; a full queue holds the training thread (the disk is slower than
# the run), which bounds the memory pending checkpoint copies can take.
MAX_PENDING = 16
_CLOSE = object()


class RunWriter:
    """A background writer for the run folder ``folder``. ``submit`` queues work, ``flush``
    waits until everything queued is written, ``close`` does that and ends the thread."""

    def __init__(self, folder: Path, on_problem: Callable[[], None] | None = None) -> None:
        self.folder = folder
        self.problem: str | None = None  # why writing stopped, as a sentence
        self._on_problem = on_problem  # called on the writer thread once, after a failure
        self._queue: queue.Queue = queue.Queue(MAX_PENDING)
        self._thread = threading.Thread(target=self._work, name="layerlab-run-writer", daemon=True)
        self._thread.start()

    def submit(self, write: Callable[..., Any], *args: Any) -> None:
        """Queue ``write(*args)``; nothing once writing has stopped or the writer is closed."""
        if self.problem is None and self._thread.is_alive():
            self._queue.put((write, args))

    def flush(self) -> None:
        """Return when everything submitted so far is on disk (or was dropped by a failure)."""
        if self._thread.is_alive():
            self._queue.join()

    def close(self) -> None:
        """Write what is queued, then end the thread."""
        if self._thread.is_alive():
            self._queue.put((_CLOSE, ()))
            self._thread.join()

    def _work(self) -> None:
        while True:
            write, args = self._queue.get()
            try:
                if write is _CLOSE:
                    return
                if self.problem is None:
                    self._run(write, args)
            finally:
                self._queue.task_done()

    def _run(self, write: Callable[..., Any], args: tuple) -> None:
        try:
            write(*args)
        except RunFolderError as err:
            self.problem = str(err)
        except OSError as err:
            self.problem = (
                f"Recording the run in '{self.folder}' stopped: {err.strerror or err}. "
                "Training goes on; the run folder holds what was written before."
            )
        except Exception as err:  # a bug of ours must not hang the run's flush or kill it
            self.problem = (
                f"Recording the run in '{self.folder}' stopped because of an internal error "
                f"({type(err).__name__}: {err}). Training goes on; the run folder holds what "
                "was written before."
            )
        if self.problem is not None and self._on_problem is not None:
            self._on_problem()
