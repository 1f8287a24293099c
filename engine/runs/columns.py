"""A run's metrics as numpy columns, fast: ``metrics.npz`` beside ``metrics.jsonl``.

metrics.jsonl stays the contract (every record, appended as the run goes); reading 10^5 of its
lines with json takes ~0.3 s, so a run's end also writes its step and epoch records as columns
to ``metrics.npz`` (read in a few ms). The npz names the size and modification time of the
metrics.jsonl it was made from: when they differ (a resume rewrote the file, a tool appended
to it) or the npz cannot be read, the reader parses metrics.jsonl instead, as if there were no
cache. No torch and no Qt: the window reads these before torch loads.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import zipfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.runs.folder import (
    METRICS_JSONL,
    RunFolderError,
    RunMetrics,
    read_metrics,
    write_bytes_atomic,
)

METRICS_CACHE = "metrics.npz"
CACHE_VERSION = 1
STEP_COLUMNS = ("step", "epoch", "loss", "accuracy", "lr")
EPOCH_COLUMNS = ("step", "epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy",
                 "val_mae")  # fmt: skip


@dataclass(frozen=True)
class MetricColumns:
    """Step and epoch records as float64 columns (None in the JSON is NaN here), with the
    sentences about unreadable lines, and whether they came from the cache."""

    steps: dict[str, np.ndarray]
    epochs: dict[str, np.ndarray]
    problems: tuple[str, ...] = ()
    cached: bool = False

    def __len__(self) -> int:
        return len(self.steps["step"])


def columns_of(metrics: RunMetrics) -> MetricColumns:
    """The columns of records already read by ``read_metrics``."""
    return MetricColumns(
        {c: _column(metrics.steps, c) for c in STEP_COLUMNS},
        {c: _column(metrics.epochs, c) for c in EPOCH_COLUMNS},
        tuple(metrics.problems),
    )


def read_metric_columns(
    path: str | os.PathLike, *, write_cache: bool = False, step_columns=STEP_COLUMNS
) -> MetricColumns:
    """A run folder's metrics as columns: from metrics.npz when it matches metrics.jsonl, else
    parsed from metrics.jsonl (and, with ``write_cache``, saved as metrics.npz for next time;
    a folder that cannot be written is read the slow way again, nothing more). Only the
    ``step_columns`` asked for are read from the cache (each is 8 bytes a step)."""
    folder = Path(path)
    cached = _read_cache(folder, tuple(step_columns))
    if cached is not None:
        return cached
    columns = columns_of(read_metrics(folder))
    if write_cache and not columns.problems:
        # Only a cache of a file that read cleanly: a corrupt line keeps its sentence each time.
        with contextlib.suppress(RunFolderError):
            write_metric_cache(folder, columns)
    return columns


def write_metric_cache(folder: Path, columns: MetricColumns) -> None:
    """Write ``columns`` as metrics.npz (atomically), stamped with metrics.jsonl's size and
    modification time as they are now."""
    source = _source_stamp(folder)
    if source is None:
        return
    arrays = {f"step_{k}": v for k, v in columns.steps.items()}
    arrays |= {f"epoch_{k}": v for k, v in columns.epochs.items()}
    arrays["source"] = np.asarray(source, dtype=np.int64)
    arrays["version"] = np.asarray(CACHE_VERSION, dtype=np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(folder / METRICS_CACHE, buffer.getbuffer())


class MetricColumnLog:
    """The recorder's copy of the step and epoch records it writes, as compact columns (8 bytes
    a value: 40 MB for 10^6 steps), so the run's end writes metrics.npz without reading
    metrics.jsonl back. A resumed run's file holds records of earlier segments: ``rebuild``
    makes the end read metrics.jsonl instead."""

    def __init__(self, rebuild: bool = False) -> None:
        self.rebuild = rebuild
        self._step_rows = array("d")  # STEP_COLUMNS' values, step after step
        self._epochs = {c: array("d") for c in EPOCH_COLUMNS}

    def add_step(self, step: int, epoch: int, loss: float, accuracy: float | None, lr: float):
        # One interleaved array, split at the end: five appends through _number took twice as
        # long, on the writer thread the training thread waits on for the interpreter lock.
        self._step_rows.extend((step, epoch, loss, math.nan if accuracy is None else accuracy, lr))

    def add_epoch(self, record: dict[str, Any]) -> None:
        for name, column in self._epochs.items():
            column.append(_number(record.get(name)))

    def write(self, folder: Path) -> None:
        """Write metrics.npz for the run's whole metrics.jsonl (closed by now)."""
        if self.rebuild:
            read_metric_columns(folder, write_cache=True)
            return
        rows = np.frombuffer(self._step_rows, dtype=np.float64).reshape(-1, len(STEP_COLUMNS))
        steps = {k: rows[:, i].copy() for i, k in enumerate(STEP_COLUMNS)}
        epochs = {k: np.frombuffer(v, dtype=np.float64) for k, v in self._epochs.items()}
        write_metric_cache(folder, MetricColumns(steps, epochs))


def _read_cache(folder: Path, step_columns: tuple[str, ...]) -> MetricColumns | None:
    """The cache's columns, or None when it is absent, unreadable or not of this metrics.jsonl."""
    file = folder / METRICS_CACHE
    source = _source_stamp(folder)
    if source is None or not file.exists():
        return None
    try:
        # From bytes: np.load left the file open when the zip in it was torn.
        with np.load(io.BytesIO(file.read_bytes()), allow_pickle=False) as npz:
            if int(npz["version"]) != CACHE_VERSION or list(npz["source"]) != list(source):
                return None
            steps = {c: np.asarray(npz[f"step_{c}"], np.float64) for c in step_columns}
            epochs = {c: np.asarray(npz[f"epoch_{c}"], np.float64) for c in EPOCH_COLUMNS}
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # a torn or foreign cache: metrics.jsonl is the truth, read it instead
    if len({len(v) for v in steps.values()}) > 1 or len({len(v) for v in epochs.values()}) > 1:
        return None
    return MetricColumns(steps, epochs, cached=True)


def _source_stamp(folder: Path) -> tuple[int, int] | None:
    try:
        stat = (folder / METRICS_JSONL).stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _column(records: list[dict[str, Any]], name: str) -> np.ndarray:
    return np.fromiter((_number(r.get(name)) for r in records), np.float64, len(records))


def _number(value: Any) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan
    )
