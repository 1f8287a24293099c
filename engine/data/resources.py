"""Checks before reading a file: it exists, is not empty, and fits in memory; progress."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import DatasetError

ProgressFn = Callable[[float], None]

# Refuse a load that would take more than this share of the memory that is free now: the
# arrays are copied at least once on the way (raw -> float32 -> split), and the training
# process needs room for the model besides.
MEMORY_SHARE = 0.6


def available_memory() -> int | None:
    """Bytes of memory free for new allocations, or None if the platform does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.1f} MB"


def require_memory(needed_bytes: float, path: str | Path, what: str = "This dataset") -> None:
    """Raise DatasetError before reading when the data would not fit in free memory."""
    free = available_memory()
    if free is None or needed_bytes <= free * MEMORY_SHARE:
        return
    raise DatasetError(
        f"{what} in '{path}' would need about {_gb(needed_bytes)} of memory once loaded, but "
        f"only {_gb(free)} is free. Use a smaller subset of the data, or close other programs "
        "and try again.",
        path=str(path),
    )


def require_file(path: Path) -> int:
    """The size of an existing, non-empty, readable file; DatasetError otherwise."""
    if not path.exists():
        raise DatasetError(
            f"The file '{path}' does not exist. Check the path, or pick the file again.",
            path=str(path),
        )
    if not path.is_file():
        raise DatasetError(f"'{path}' is not a file.", path=str(path))
    size = path.stat().st_size
    if size == 0:
        raise DatasetError(
            f"The file '{path}' is empty (0 bytes). It may not have finished downloading or "
            "copying; get the file again.",
            path=str(path),
        )
    if not os.access(path, os.R_OK):
        raise DatasetError(f"The file '{path}' cannot be read: permission denied.", path=str(path))
    return size


class Progress:
    """Maps a sub-task's 0..1 onto a slice of the whole load and never goes backwards."""

    def __init__(self, callback: ProgressFn | None, start: float = 0.0, stop: float = 1.0):
        self._callback = callback
        self._start, self._stop = start, stop
        self._last = -1.0

    def __call__(self, fraction: float) -> None:
        if self._callback is None:
            return
        value = self._start + (self._stop - self._start) * min(max(fraction, 0.0), 1.0)
        # Rate-limit to 1 % steps: a per-line callback would cost more than the parsing.
        if value >= 1.0 or value - self._last >= 0.01:
            self._last = value
            self._callback(value)

    def part(self, start: float, stop: float) -> Progress:
        span = self._stop - self._start
        return Progress(self._callback, self._start + span * start, self._start + span * stop)
