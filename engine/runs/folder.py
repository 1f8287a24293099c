"""The run folder format ("layerlab.run", version 1) and its reader.

A run folder holds ``run.json`` (the run's description and status, rewritten atomically),
``metrics.jsonl`` and ``metrics.csv`` (appended as the run goes), ``checkpoints/`` (last and
best: safetensors + JSON), ``probes/`` (the newest snapshot of each probe kind: npz + JSON) and
``tensorboard/`` (event files). README, "Runs on disk", is the public description.

No torch and no Qt here: the window reads run folders with this module before torch loads.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.contracts import read_contract
from engine.model.spec import write_atomic

RUN_FORMAT = "layerlab.run"
RUN_FORMAT_VERSION = 1
RUN_FILE = "run.json"
METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
CHECKPOINTS = "checkpoints"
PROBES = "probes"
TENSORBOARD = "tensorboard"
STATUSES = ("running", "finished", "stopped", "failed", "interrupted")
# A run written on another machine that has not touched its files for this long is taken as
# interrupted (on this machine its process id says so at once).
STALE_SECONDS = 300.0


class RunFolderError(ValueError):
    """A run folder or one of its files that cannot be read or written; names the file."""


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to a temporary file beside ``path`` and rename it over ``path``,
    so a reader (or a crash) sees the old file or the new one, never half of one."""
    # No indent: json's C encoder only runs without one (an indent made a checkpoint's JSON,
    # with its RNG states, cost 4 ms instead of 0.3).
    write_text_atomic(path, json_text(data) + "\n")


def json_text(data: Any) -> str:
    """``data`` as the JSON LayerLab's files hold: numpy scalars as numbers, no NaN."""
    return json.dumps(data, allow_nan=False, default=_plain)


def write_text_atomic(path: Path, text: str) -> None:
    """The model file's atomic write (temporary file, fsync, rename), with a RunFolderError
    that names the file."""
    try:
        write_atomic(path, text)
    except OSError as err:
        raise RunFolderError(_cannot_write(path, err)) from None


def write_bytes_atomic(path: Path, *chunks: bytes | memoryview) -> None:
    """Write ``chunks`` one after the other to ``.<name>.tmp`` beside ``path`` and rename it
    over ``path`` (a reader, or a crash, sees the old file or the new one). No fsync: these
    are the run's own files, rewritten every epoch or second, and a killed process loses
    nothing the rename has not finished. A RunFolderError names the file; no temporary file
    is left behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.writelines(chunks)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RunFolderError(_cannot_write(path, err)) from None


def _cannot_write(path: Path, err: OSError) -> str:
    why = err.strerror or str(err)
    return (
        f"Cannot write '{path}': {why}. Choose a run folder you can write to "
        "(python main.py train --run-dir DIR), or free some disk space."
    )


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and tuples' cousins; NaN is written as null (JSON has none)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# ---------------------------------------------------------------- where runs go


def user_runs_dir() -> Path:
    """Where the window's runs go: "runs" in LayerLab's folder of the user's data directory
    (LAYERLAB_DATA_DIR overrides it, for tests and portable installs)."""
    override = os.environ.get("LAYERLAB_DATA_DIR")
    if override:
        return Path(override) / "runs"
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "LayerLab" / "runs"


def new_run_folder(parent: str | os.PathLike, model_name: str) -> Path:
    """Create and return a new, empty folder for a run under ``parent``: the model's name and
    the start time, with -2, -3, … when two runs start in the same second."""
    parent = Path(parent)
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in model_name.strip().lower())
    stem = f"{slug.strip('-') or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            path = parent / (stem if n == 1 else f"{stem}-{n}")
            with contextlib.suppress(FileExistsError):
                path.mkdir()
                return path
    except OSError as err:
        raise RunFolderError(_cannot_write(parent, err)) from None
    raise RunFolderError(f"Cannot make a new run folder in '{parent}': too many runs named {stem}.")


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class RunInfo:
    """A run folder's description, as read from its run.json."""

    path: Path
    data: dict[str, Any]
    status: str  # as written, or "interrupted" for a "running" run whose writer is gone

    @property
    def name(self) -> str:
        """The run's label: run.json's ``name`` (a rename sets it), else its folder's name."""
        name = self.data.get("name")
        return name if isinstance(name, str) and name.strip() else self.path.name

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def read_run(path: str | os.PathLike) -> RunInfo:
    """Read a run folder's run.json; RunFolderError (naming the file) when it cannot be used."""
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"'{path}' is not a run folder: no such folder.")
    data = read_contract(
        path / RUN_FILE, format=RUN_FORMAT, version=RUN_FORMAT_VERSION, what="run description",
        error=RunFolderError, missing=f"'{path}' is not a LayerLab run folder: it has no {RUN_FILE}.",
    )  # fmt: skip
    status = data.get("status")
    if status == "running" and not _writer_alive(path, data):
        status = "interrupted"
    return RunInfo(path, data, status if status in STATUSES else "interrupted")


def _writer_alive(path: Path, data: dict[str, Any]) -> bool:
    """Whether the process that wrote a "running" run.json may still be writing it."""
    pid = data.get("pid")
    if data.get("host") == socket.gethostname() and isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process with that id: taken as alive
            return True
        return True
    newest = max(
        (p.stat().st_mtime for p in (path / RUN_FILE, path / METRICS_JSONL) if p.exists()),
        default=0.0,
    )
    return time.time() - newest < STALE_SECONDS


@dataclass
class RunMetrics:
    """A run's metrics.jsonl: step and epoch records, settings and pause markers, and a
    sentence for each line that could not be read (the rest are kept)."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    markers: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_metrics(path: str | os.PathLike) -> RunMetrics:
    """Every record of a run folder's metrics.jsonl. A last line without its newline is a
    record still being written and is left out quietly; any other unreadable line is left out
    with a sentence in ``problems`` naming the file and line."""
    file = Path(path) / METRICS_JSONL
    out = RunMetrics()
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    except OSError as err:
        raise RunFolderError(f"Cannot read '{file}': {err.strerror or err}.") from None
    lines = text.split("\n")
    # The part after the last newline is not a whole record yet.
    sort_metric_lines(lines[:-1], file, 1, out)
    return out


def sort_metric_lines(lines, file: Path, first: int, out) -> None:
    """Each line of metrics.jsonl (str or bytes, numbered from ``first``) into ``out``'s
    ``steps``, ``epochs`` or ``markers`` by its type; a line that is not a record becomes a
    sentence in ``out.problems`` naming the file and line. Shared by read_metrics and the
    reader that follows a run as it grows (follow.py)."""
    for number, line in enumerate(lines, first):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            kind = record["type"]
        except (ValueError, KeyError, TypeError):
            out.problems.append(
                f"'{file}' line {number} is not a metrics record (truncated or corrupt); "
                "it was skipped."
            )
            continue
        {"step": out.steps, "epoch": out.epochs}.get(kind, out.markers).append(record)


def list_checkpoints(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The checkpoints a run folder holds ("last", "best"), each its JSON description."""
    folder = Path(path) / CHECKPOINTS
    found = {}
    for which in ("last", "best"):
        file = folder / f"{which}.json"
        if file.exists():
            try:
                found[which] = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # read_checkpoint says why, when that checkpoint is asked for
    return found


# ---------------------------------------------------------------- renaming

MAX_RUN_NAME = 120  # characters: a name is a label in a list and a legend, not a description


def rename_run(path: str | os.PathLike, name: str) -> RunInfo:
    """Set a run's label (run.json's ``name``, rewritten atomically). The folder keeps its name:
    TensorBoard logs, scripts and other tools point at it. A run still being written is
    refused: its recorder rewrites run.json from its own copy at every epoch end."""
    run = read_run(path)
    name = " ".join(name.split())  # one line: newlines and tabs would break the list's rows
    if not name:
        raise RunFolderError(f"A run's name cannot be empty; '{run.path.name}' keeps '{run.name}'.")
    if len(name) > MAX_RUN_NAME:
        raise RunFolderError(
            f"The name is {len(name)} characters long; a run's name may have at most "
            f"{MAX_RUN_NAME}. Choose a shorter one."
        )
    if run.status == "running":
        raise RunFolderError(
            f"The run {run.name} is still training, and its recorder rewrites "
            f"'{run.path / RUN_FILE}' at every epoch end: rename it after it ends."
        )
    write_json_atomic(run.path / RUN_FILE, {**run.data, "name": name})
    return read_run(run.path)
