"""Checks before reading a file: it exists, is not empty, and fits in memory; progress."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError

ProgressFn = Callable[[float], None]

# The estimate below counts every copy a load and a run hold, so what is left of the free
# memory is for torch, the model, its optimiser state and the window.
MEMORY_SHARE = 0.8
_CGROUP = Path("/sys/fs/cgroup")
_NO_LIMIT = 1 << 60  # cgroup v1 writes "no limit" as a huge number instead of "max"


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a dataset will hold, counted before anything is allocated.

    ``reading``: the peak while the source is read or generated, up to the float32 arrays of
    every sample (raw arrays, temporaries, the conversion). ``dataset``: the finished Dataset
    (x and y of both splits). ``standardised``: vectors and sequences are standardised after
    the split, which holds two more dataset-sized arrays for a moment.
    """

    reading: int
    dataset: int
    standardised: bool = False

    @property
    def load_peak(self) -> int:
        # The split copies every sample while what was read is still held.
        return self.reading + self.dataset * (3 if self.standardised else 1)

    @property
    def run_peak(self) -> int:
        # Train sends the window's dataset to the training process: the pickled bytes on each
        # side of the pipe, and the training process's own copy, beside the window's.
        return 4 * self.dataset

    @property
    def peak(self) -> int:
        return max(self.load_peak, self.run_peak)


def available_memory() -> int | None:
    """Bytes of memory free for new allocations, or None if the platform does not say: the
    system's MemAvailable, or less when this process's cgroup (a container) has a limit."""
    free = _meminfo_available()
    limit = cgroup_free(_CGROUP)
    if limit is not None:
        free = limit if free is None else min(free, limit)
    return free


def _meminfo_available() -> int | None:
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


def cgroup_free(root: Path) -> int | None:
    """Bytes left under the memory limit of the cgroup at ``root`` (v2 ``memory.max``, or v1
    ``memory/memory.limit_in_bytes``); None when there is no limit or no cgroup."""
    for limit_file, usage_file in (
        (root / "memory.max", root / "memory.current"),
        (root / "memory" / "memory.limit_in_bytes", root / "memory" / "memory.usage_in_bytes"),
    ):
        try:
            limit_text = limit_file.read_text(encoding="ascii").strip()
            if limit_text == "max":
                return None
            limit, used = int(limit_text), int(usage_file.read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue
        return None if limit >= _NO_LIMIT else max(limit - used, 0)
    return None


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.1f} MB"


def affordable_bytes() -> int | None:
    """The most a dataset's peak may hold on this machine now; None when it cannot be told."""
    free = available_memory()
    return None if free is None else int(free * MEMORY_SHARE)


def require_memory(
    needed: MemoryEstimate | float,
    path: str | Path | None,
    what: str = "This dataset",
    fix: str = "Use a smaller subset of the data, or close other programs and try again.",
) -> None:
    """Raise DatasetError before reading when the peak of ``needed`` (bytes, or an estimate
    that counts every copy) would not fit in the memory free now. ``fix`` says what to change.
    """
    peak = needed.peak if isinstance(needed, MemoryEstimate) else needed
    allowed = affordable_bytes()
    if allowed is None or peak <= allowed:
        return
    where = f"{what} in '{path}'" if path is not None else what
    raise DatasetError(
        f"{where} would need about {_gb(peak)} of memory at its peak (with the "
        f"copies made while loading and the training process's own copy), but only "
        f"{_gb(allowed / MEMORY_SHARE)} is free. {fix}",
        path=None if path is None else str(path),
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
