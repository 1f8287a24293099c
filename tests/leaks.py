"""What a test left running or on screen: top-level widgets, pool and Python threads, child
processes. The window fixtures in tests/conftest.py take a snapshot before the test and fail it
on whatever ``find_leaks`` still finds after the window is closed (napari's pattern).

Leaks show up here rather than as a crash or a hang several tests later: a training process or
a dataset load that outlives its test keeps a core busy and may emit into a deleted window.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QEvent, QThreadPool
from PySide6.QtWidgets import QApplication

# How long work that is already ending (a run told to stop, a dataset load) may take to end.
DEFAULT_WAIT_S = 10.0


@dataclass(frozen=True)
class Snapshot:
    """What was alive before the test, so that only what the test started is blamed on it."""

    widgets: frozenset[int]  # addresses of the top-level widgets' C++ objects
    threads: frozenset[threading.Thread]
    processes: frozenset[int]  # pids of multiprocessing children


def snapshot() -> Snapshot:
    return Snapshot(
        widgets=frozenset(_address(w) for w in _top_level_widgets()),
        threads=frozenset(threading.enumerate()),
        processes=frozenset(p.pid for p in multiprocessing.active_children()),
    )


def find_leaks(before: Snapshot, wait_s: float = DEFAULT_WAIT_S) -> list[str]:
    """One readable line per thing started since ``before`` that is still there; [] if none.

    Threads and processes get until ``wait_s`` from now to end on their own, since a run that
    was just told to stop is ending, not leaking. Widgets are checked after Qt has run the
    pending deleteLater() calls.
    """
    deadline = time.monotonic() + wait_s
    leaks = _pool_leaks(deadline)
    leaks += _thread_leaks(before, deadline)
    leaks += _process_leaks(before, deadline)
    leaks += _widget_leaks(before)
    return leaks


def flush_deletions() -> None:
    """Run the deleteLater() calls Qt has queued (processEvents alone does not) and free the
    Python wrappers nothing refers to any more."""
    app = QApplication.instance()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()


def _pool_leaks(deadline: float) -> list[str]:
    pool = QThreadPool.globalInstance()
    if pool.waitForDone(_remaining_ms(deadline)):
        return []
    return [f"QThreadPool.globalInstance() still runs {pool.activeThreadCount()} task(s)"]


def _thread_leaks(before: Snapshot, deadline: float) -> list[str]:
    leaks = []
    for thread in threading.enumerate():
        # A thread Python did not start (a Qt pool thread that ran Python code) is listed as a
        # dummy that never ends; the pool check above covers those.
        if thread in before.threads or type(thread).__name__ == "_DummyThread":
            continue
        thread.join(_remaining_ms(deadline) / 1000)
        if thread.is_alive():
            kind = "daemon thread" if thread.daemon else "thread"
            leaks.append(f"Python {kind} {thread.name!r} still runs")
    return leaks


def _process_leaks(before: Snapshot, deadline: float) -> list[str]:
    leaks = []
    for process in multiprocessing.active_children():
        if process.pid in before.processes:
            continue
        process.join(_remaining_ms(deadline) / 1000)
        if process.is_alive():
            leaks.append(f"child process {process.name!r} (pid {process.pid}) is still alive")
    return leaks


def _widget_leaks(before: Snapshot) -> list[str]:
    flush_deletions()
    return [
        f"top-level widget {_describe(w)} was not deleted"
        for w in _top_level_widgets()
        if _address(w) not in before.widgets
    ]


def _top_level_widgets() -> list:
    return [w for w in QApplication.topLevelWidgets() if shiboken6.isValid(w)]


def _address(widget) -> int:
    return shiboken6.getCppPointer(widget)[0]


def _describe(widget) -> str:
    parts = [type(widget).__name__]
    if widget.objectName():
        parts.append(repr(widget.objectName()))
    if widget.windowTitle():
        parts.append(f"titled {widget.windowTitle()!r}")
    parts.append("(shown)" if widget.isVisible() else "(hidden)")
    return " ".join(parts)


def _remaining_ms(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))
