"""Following a run folder while something else writes it: an incremental reader.

``RunReader(folder).poll()`` returns everything so far on its first call and, on each later
one, only what changed: the metrics records appended to metrics.jsonl since (read from the byte
offset where the last poll stopped), the probe kinds whose files changed, and run.json when the
run's status or progress changed. It holds no file open between polls, so the writer may be
another process, another machine (a shared drive), `python main.py train` or the window's
training process alike.

No torch and no Qt: the window follows runs before torch loads (and needs none to follow).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.runs.folder import (
    METRICS_JSONL,
    PROBES,
    RunFolderError,
    RunInfo,
    read_run,
    sort_metric_lines,
)
from engine.runs.probe_files import ProbeFileTorn, read_probe
from engine.training.events import EpochMetrics, SettingsChanged, StepMetrics

# How many polls a probe file pair may stay unreadable, unchanged, before it is called corrupt
# rather than caught mid-write (a write takes milliseconds; polls are ~0.5 s apart).
TORN_POLLS = 2


@dataclass
class RunUpdate:
    """What one poll found. ``info`` is run.json when it changed (always on the first poll),
    else None; ``restarted`` says metrics.jsonl was cut shorter than what was read (a resume
    truncates it), so the records here are the whole file again."""

    info: RunInfo | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    markers: list[dict[str, Any]] = field(default_factory=list)
    probes: dict[str, tuple[int, Any, str | None]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    restarted: bool = False

    @property
    def empty(self) -> bool:
        return not (self.info or self.steps or self.epochs or self.markers or self.probes)


@dataclass
class _ProbeState:
    signature: tuple  # the (mtime, size) of the pair when it was last read or tried
    failures: int = 0


class RunReader:
    """Reads a run folder a little at a time: each poll returns what was added since the last."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.info: RunInfo | None = None  # run.json as last read
        self.offset = 0  # bytes of metrics.jsonl read so far (up to the last whole line)
        self.line = 0  # whole lines of metrics.jsonl read so far
        self._probes: dict[str, _ProbeState] = {}
        self._said: set[str] = set()  # problems are named once, not at every poll

    @property
    def running(self) -> bool:
        """Whether the run is still being written (as far as the last poll saw)."""
        return self.info is not None and self.info.status == "running"

    def poll(self) -> RunUpdate:
        """What was added since the last poll. The first poll raises RunFolderError (naming the
        file) when the folder is not a readable run; later ones report problems in the
        update and go on, since a run being written is expected to be caught half-way."""
        update = RunUpdate()
        self._poll_run(update)
        self._poll_metrics(update)
        self._poll_probes(update)
        update.problems = [p for p in update.problems if p not in self._said]
        self._said.update(update.problems)
        return update

    # ------------------------------------------------------------ run.json

    def _poll_run(self, update: RunUpdate) -> None:
        try:
            info = read_run(self.folder)
        except RunFolderError as err:
            if self.info is None:
                raise
            update.problems.append(str(err))
            return
        old = self.info
        if old is None or old.status != info.status or old.data != info.data:
            update.info = info
        if old is not None and _segments(old) != _segments(info):
            # Resumed: the records after its checkpoint were dropped and new ones follow, so
            # the file may have grown back past where the last poll stopped. Read it anew.
            self.offset, self.line, update.restarted = 0, 0, True
        self.info = info

    # ------------------------------------------------------------ metrics.jsonl

    def _poll_metrics(self, update: RunUpdate) -> None:
        file = self.folder / METRICS_JSONL
        try:
            with open(file, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self.offset:  # cut shorter: a resume dropped records after a step
                    self.offset, self.line, update.restarted = 0, 0, True
                fh.seek(self.offset)
                data = fh.read(size - self.offset)
        except FileNotFoundError:
            return  # not written yet
        except OSError as err:
            update.problems.append(f"Cannot read '{file}': {err.strerror or err}.")
            return
        end = data.rfind(b"\n") + 1  # a last line without its newline is still being written
        self.offset += end
        lines = data[:end].split(b"\n")[:-1]
        records = _whole(lines)
        if records is not None:  # every line a record: parsed at once, 4x faster than by line
            self.line += len(lines)
            for record in records:
                kind = record["type"]
                {"step": update.steps, "epoch": update.epochs}.get(kind, update.markers).append(
                    record
                )
            return
        sort_metric_lines(lines, file, self.line + 1, update)
        self.line += len(lines)

    # ------------------------------------------------------------ probes/

    def _poll_probes(self, update: RunUpdate) -> None:
        folder = self.folder / PROBES
        try:
            metas = sorted(folder.glob("*.json")) if folder.is_dir() else []
        except OSError as err:
            update.problems.append(f"Cannot read '{folder}': {err.strerror or err}.")
            return
        for meta in metas:
            kind = meta.stem
            signature = _signature(meta)
            state = self._probes.get(kind)
            if state is not None and state.signature == signature and state.failures == 0:
                continue  # unchanged since it was read
            try:
                update.probes[kind] = read_probe(meta)
                self._probes[kind] = _ProbeState(signature)
            except (ProbeFileTorn, RunFolderError) as err:
                # Caught between its two files' writes, or corrupt: tried again at the next
                # poll; named only when it stays so while its files do not change.
                same = state is not None and state.signature == signature
                failures = state.failures + 1 if same else 1
                self._probes[kind] = _ProbeState(signature, failures)
                if failures > TORN_POLLS:
                    update.problems.append(str(err))


def _segments(info: RunInfo) -> int:
    segments = info.get("segments")
    return len(segments) if isinstance(segments, list) else 0


def _whole(lines: list[bytes]) -> list[dict[str, Any]] | None:
    """The lines as records, parsed as one JSON array; None when any line is not a record
    (then each is read alone, to name the bad ones)."""
    try:
        records = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        return None
    if len(records) != len(lines):
        return None
    if not all(isinstance(r, dict) and "type" in r for r in records):
        return None
    return records


def _signature(meta: Path) -> tuple:
    """The pair's modification times and sizes: a change in either means a newer snapshot."""
    out = []
    for file in (meta, meta.with_suffix(".npz")):
        try:
            st = file.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


# ---------------------------------------------------------------- records as events


def step_event(run_id: int, record: dict[str, Any]) -> StepMetrics | None:
    """A metrics.jsonl step record as the event the views take (None when it lacks a field)."""
    try:
        return StepMetrics(
            run_id, int(record["step"]), int(record.get("epoch") or 0),
            _number(record["loss"]), _number(record.get("lr")),
            _number(record.get("samples_per_second")), None, _optional(record.get("accuracy")),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None


def epoch_event(run_id: int, record: dict[str, Any]) -> EpochMetrics | None:
    try:
        return EpochMetrics(
            run_id, int(record["epoch"]), int(record["step"]),
            _number(record.get("train_loss")), _number(record.get("val_loss")),
            _optional(record.get("train_accuracy")), _optional(record.get("val_accuracy")),
            _optional(record.get("val_mae")), _number(record.get("seconds")),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None


def settings_event(run_id: int, record: dict[str, Any]) -> SettingsChanged | None:
    """A settings marker as the event the curves mark (other markers are not drawn)."""
    changes = record.get("changes")
    if record.get("type") != "settings" or not isinstance(changes, dict):
        return None
    try:
        return SettingsChanged(run_id, int(record["step"]), dict(changes))
    except (KeyError, TypeError, ValueError):
        return None


def _number(value: Any) -> float:
    """JSON has no NaN: the recorder writes a non-finite value as null."""
    return float("nan") if value is None else float(value)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)
