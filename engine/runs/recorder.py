"""The recorder: a Trainer callback that writes the run to its run folder as it goes.

The training thread only collects and copies: a list append per step and per epoch, and at a
checkpoint a CPU copy of it (engine/runs/checkpoint.py). Every file is written by the run's one
writer thread (engine/runs/writer.py), in the order things happened: the step and epoch
records (metrics.jsonl, metrics.csv, TensorBoard) and the newest probe snapshots at most every
``flush_seconds``, epoch-end checkpoints at most every ``checkpoint_gap`` seconds (with the
records before them), so a SIGKILL loses at most that much of the curves and of the weights
(or the epoch in progress, when epochs are longer). At the end (finish, stop, failure) the
recorder waits for the writer, so the final checkpoint and run.json are on disk before the
callbacks after it (and the caller of Trainer.run) hear of the end. A write that fails (disk full, folder gone) stops the
recording, not the training: ``problem`` then says what happened.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from engine.runs.checkpoint import CheckpointCopy, copy_checkpoint, keep_as_best, write_checkpoint
from engine.runs.columns import MetricColumnLog
from engine.runs.folder import (
    METRICS_CSV,
    METRICS_JSONL,
    RUN_FILE,
    RUN_FORMAT,
    RUN_FORMAT_VERSION,
    finite_or_none,
    now_iso,
    write_json_atomic,
)
from engine.runs.logs import RunLogs
from engine.runs.probe_files import write_probe
from engine.runs.writer import RunWriter
from engine.training.events import (
    Callback,
    EpochMetrics,
    Failed,
    Finished,
    Paused,
    ProbeSnapshot,
    RunStarted,
    SettingsChanged,
    StepMetrics,
)

FLUSH_SECONDS = 1.0
# Epoch-end checkpoints are written at most this often. A small model's epochs can last 15 ms
# (the moons MLP: 800 samples), and a checkpoint and a flush of the records at every one of them
# took a quarter of the training's time: the writer thread's Python work holds the interpreter
# lock the training thread needs. The best epoch's copy waits in memory for its turn.
CHECKPOINT_SECONDS = 1.0


class RunRecorder(Callback):
    """Writes ``trainer``'s run into ``folder`` (an existing, empty folder, or the folder of
    the run it resumes). ``checkpoint_every``: epochs between checkpoints (the best epoch and
    the end are always saved); ``checkpoint_gap``: the fewest seconds between two epoch-end
    checkpoints (a best epoch's copy waits in memory meanwhile)."""

    def __init__(
        self,
        folder: str | os.PathLike,
        trainer,
        *,
        checkpoint_every: int = 1,
        flush_seconds: float = FLUSH_SECONDS,
        checkpoint_gap: float = CHECKPOINT_SECONDS,
        tensorboard: bool = True,
    ) -> None:
        self.folder, self.trainer = Path(folder), trainer
        self.checkpoint_every, self.flush_seconds = max(1, checkpoint_every), flush_seconds
        self.checkpoint_gap = checkpoint_gap
        self.use_tensorboard = tensorboard
        self.checkpoint_seconds: list[float] = []  # how long each checkpoint's copy held the loop
        self.checkpoint_write_seconds: list[float] = []  # its write, on the writer thread
        self._writer: RunWriter | None = None  # from the run's start to its end
        self._logs: RunLogs | None = None  # the writer thread's only
        self._columns = MetricColumnLog()  # the writer thread's: metrics.npz at the end
        # The training thread's: what is waiting for the next flush (step records as the event
        # and its wall time, epoch records as dicts, in order), and the run's description.
        # Values in _run are replaced, never changed in place: the writer gets shallow copies.
        self._records: list[tuple[StepMetrics, float] | dict[str, Any]] = []
        self._probes: dict[str, ProbeSnapshot] = {}
        self._next_flush = 0.0
        self._run: dict[str, Any] = {}
        self._epochs_done = 0
        self._checkpoint_step = -1
        self._next_checkpoint = 0.0  # monotonic time an epoch end may write a checkpoint again
        self._best: dict[str, Any] | None = None  # the best epoch so far, written or waiting
        # The copy of a best epoch that came before its turn, and its "best" entry for run.json.
        self._waiting_best: tuple[CheckpointCopy, dict[str, Any]] | None = None
        self._run_queued = -math.inf  # when run.json was last queued (monotonic)
        self._run_dirty = False  # _run changed since: the next flush queues it

    @property
    def started(self) -> bool:
        """Whether the run got as far as its start (its run.json is written or queued)."""
        return bool(self._run)

    @property
    def problem(self) -> str | None:
        """Why recording stopped, as a sentence naming the folder; None while all is well."""
        return self._writer.problem if self._writer is not None else None

    # ------------------------------------------------------------ events (training thread)

    def on_run_start(self, event: RunStarted) -> None:
        self._start(event)

    def on_step_end(self, event: StepMetrics) -> None:
        self._records.append((event, time.time()))
        if time.monotonic() >= self._next_flush:
            self._flush()

    def on_epoch_end(self, event: EpochMetrics) -> None:
        self._epoch(event)

    def on_settings_changed(self, event: SettingsChanged) -> None:
        self._marker({"type": "settings", "step": event.step, "changes": dict(event.changes)})

    def on_pause(self, event: Paused) -> None:
        self._marker({"type": "paused", "step": event.step, "paused": event.paused})
        if self._run:
            self._run["paused"] = event.paused
            if event.paused:  # a best epoch waiting for its turn is written now
                self._submit_waiting_best()
            self._submit_run()

    def on_probe(self, event: ProbeSnapshot) -> None:
        self._probes[event.kind] = event  # the newest of each kind is written at the next flush

    def on_finish(self, event: Finished) -> None:
        self._end("stopped" if event.stopped_early else "finished", event.step, None)

    def on_fail(self, event: Failed) -> None:
        self._end("failed", event.step, event.message)

    # ------------------------------------------------------------ the training thread's part

    def _start(self, event: RunStarted) -> None:
        trainer, first_step = self.trainer, event.first_step
        previous = _read_json(self.folder / RUN_FILE) if first_step else {}
        self._run = {
            **previous,
            "format": RUN_FORMAT,
            "version": RUN_FORMAT_VERSION,
            "name": previous.get("name", self.folder.name),
            "model_name": event.model_name,
            "spec": trainer.spec.to_dict(),
            "settings": dict(event.settings),
            "dataset": {**dataset_reference(trainer), "title": event.dataset_name},
            "seed": event.settings.get("seed"),
            "device": event.device,
            "processes": event.processes,
            "versions": _versions(),
            "status": "running",
            "paused": False,
            "started_at": previous.get("started_at", now_iso()),
            "ended_at": None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "total_epochs": event.total_epochs,
            "steps_per_epoch": event.steps_per_epoch,
            "epochs_done": event.first_epoch,
            "step": first_step,
            "message": None,
            "segments": [
                *previous.get("segments", []),
                {"started_at": now_iso(), "first_step": first_step},
            ],
        }
        self._epochs_done = event.first_epoch
        self._best = self._run.get("best")  # a resumed run's best so far
        self._writer = RunWriter(self.folder, on_problem=self._close_logs)
        self._submit_run()
        self._writer.submit(self._open_logs, first_step, event.first_epoch)
        self._next_flush = time.monotonic() + self.flush_seconds

    def _flush(self, *, run_json: bool = True) -> None:
        """Hand the waiting records and probe snapshots to the writer, and run.json when it
        waits for its turn (not before a checkpoint: its run.json goes after it)."""
        records, self._records = self._records, []
        probes, self._probes = self._probes, {}
        if self._writer is not None:
            self._writer.submit(self._write_records, records, probes)
            if self._run_dirty and run_json:
                self._submit_run(soon=True)
        self._next_flush = time.monotonic() + self.flush_seconds

    def _epoch(self, event: EpochMetrics) -> None:
        if self._writer is None:
            return
        self._epochs_done = event.epoch
        self._records.append({
            "type": "epoch", "step": event.step, "epoch": event.epoch, "time": time.time(),
            "train_loss": event.train_loss, "val_loss": finite_or_none(event.val_loss),
            "train_accuracy": event.train_accuracy, "val_accuracy": event.val_accuracy,
            "val_mae": event.val_mae, "seconds": event.seconds,
        })  # fmt: skip
        metric, value = best_metric(event)
        best = self._best
        improved = value is not None and (
            best is None
            or best.get("metric") != metric
            or (value > best["value"] if metric == "val_accuracy" else value < best["value"])
        )
        self._run.update(epochs_done=event.epoch, step=event.step, final=_metrics(event))
        self._run_dirty = True
        if improved:
            self._best = {"metric": metric, "value": value, "epoch": event.epoch,
                          "step": event.step}  # fmt: skip
        now = time.monotonic()
        if now < self._next_checkpoint or not (
            improved or event.epoch % self.checkpoint_every == 0
        ):
            taken = self._copy("epoch", _metrics(event)) if improved else None
            if taken is not None:  # its weights are kept until a checkpoint may be written
                self._waiting_best = (taken, self._best)
            if now >= self._next_flush:
                self._flush()
            return
        taken = self._copy("epoch", _metrics(event))
        self._flush(run_json=False)  # this run.json names this checkpoint: it goes after it
        if improved:
            self._waiting_best = None  # this one is better
        self._submit_waiting_best()
        self._submit_checkpoint(taken, self._best if improved else None)
        self._next_checkpoint = now + self.checkpoint_gap
        self._submit_run(soon=True)

    def _copy(self, reason: str, metrics: dict[str, Any] | None) -> CheckpointCopy | None:
        """The run's checkpoint as copies, taken while the writer has nothing new to do: the
        writer holds the interpreter lock while it formats records, and each of the copy's
        tensor calls would wait for it (2.1 ms for the digits CNN's copy instead of 0.35)."""
        setup = self.trainer.setup
        if setup is None:
            return None
        started = time.perf_counter()
        progress = self.trainer.progress(self._epochs_done)
        taken = copy_checkpoint(model=setup.model, optimizer=setup.optimizer,
                                shuffle_rng=setup.shuffle_rng, progress=progress,
                                metrics=metrics, reason=reason)  # fmt: skip
        self.checkpoint_seconds.append(time.perf_counter() - started)
        return taken

    def _submit_checkpoint(self, taken: CheckpointCopy | None, best: dict | None) -> None:
        """Queue ``taken``'s write (also as the best one when ``best``, its run.json entry)."""
        if taken is None:
            return
        self._writer.submit(self._write_checkpoint, taken, best is not None)
        progress = taken.info["progress"]
        self._checkpoint_step = progress["step"]
        self._run["checkpoint"] = {"step": progress["step"], "epochs_done": progress["epochs_done"]}
        if best is not None:
            self._run["best"] = best

    def _submit_waiting_best(self) -> None:
        if self._waiting_best is not None:
            self._submit_checkpoint(*self._waiting_best)
            self._waiting_best = None

    def _end(self, status: str, step: int, message: str | None) -> None:
        if self._writer is None:  # the run failed before it started (bad settings, missing data)
            return
        waiting = self._waiting_best
        written = waiting[0].info["progress"]["step"] if waiting else self._checkpoint_step
        taken = None
        if self.trainer.step != written and _weights_finite(self.trainer):
            taken = self._copy(status, self._run.get("final"))
        self._flush(run_json=False)  # run.json goes last, with the status
        self._submit_waiting_best()
        self._submit_checkpoint(taken, None)
        self._run.update(
            status=status, ended_at=now_iso(), step=step, message=message, paused=False
        )
        self._submit_run()
        self._writer.submit(self._close_logs)
        self._writer.submit(self._write_columns)
        self._writer.close()  # everything is on disk before the run's end is heard of

    def _marker(self, record: dict[str, Any]) -> None:
        if self._writer is not None:
            self._flush()  # the steps before the marker go before it in the file
            self._writer.submit(self._write_marker, record)

    def _submit_run(self, *, soon: bool = False) -> None:
        """Queue run.json's rewrite; ``soon``: unless one was queued in the last flush_seconds,
        in which case the next flush queues it (an epoch's end: short epochs would rewrite it
        ten times a second, on the writer thread that shares the interpreter with training)."""
        now = time.monotonic()
        if soon and now < self._run_queued + self.flush_seconds:
            self._run_dirty = True
            return
        self._run_dirty, self._run_queued = False, now
        self._writer.submit(write_json_atomic, self.folder / RUN_FILE, dict(self._run))

    # ------------------------------------------------------------ the writer thread's part

    def _open_logs(self, first_step: int, first_epoch: int) -> None:
        if first_step:
            _truncate_after(self.folder, first_step)
        self._columns = MetricColumnLog(rebuild=bool(first_step))
        self._logs = RunLogs(self.folder, first_step, self.use_tensorboard)
        if first_step:
            self._logs.marker({"type": "resumed", "step": first_step, "epoch": first_epoch})

    def _write_records(self, records, probes: dict[str, ProbeSnapshot]) -> None:
        self._logs.records(records)
        columns = self._columns
        for record in records:
            if isinstance(record, dict):
                columns.add_epoch(record)
            else:
                e = record[0]
                columns.add_step(e.step, e.epoch, e.loss, e.accuracy, e.lr)
        for kind, snapshot in probes.items():
            write_probe(self.folder, kind, snapshot.step, snapshot.data, snapshot.error)
            self._logs.histograms(snapshot)

    def _write_marker(self, record: dict[str, Any]) -> None:
        self._logs.marker(record)

    def _write_checkpoint(self, taken: CheckpointCopy, best: bool) -> None:
        started = time.perf_counter()
        info = write_checkpoint(self.folder, taken)
        if best:
            keep_as_best(self.folder, info)
        self.checkpoint_write_seconds.append(time.perf_counter() - started)

    def _write_columns(self) -> None:
        # Looked up here, on the writer thread: _open_logs (queued first) sets the run's log.
        self._columns.write(self.folder)

    def _close_logs(self) -> None:
        if self._logs is not None:
            self._logs.close()
            self._logs = None


def best_metric(event: EpochMetrics) -> tuple[str, float | None]:
    """The metric "best" is judged by: validation accuracy (higher), else validation loss,
    else (no validation set) training loss (lower)."""
    if event.val_accuracy is not None:
        return "val_accuracy", event.val_accuracy
    if math.isfinite(event.val_loss):
        return "val_loss", event.val_loss
    return "train_loss", event.train_loss


def dataset_reference(trainer) -> dict[str, Any]:
    """What the run trained on, as a resume can load it again (location None: a dataset
    handed over in memory, which a resume must be given)."""
    from engine.data import DataSource

    source = trainer.dataset
    if getattr(trainer, "data_source", None) is not None:  # loaded by the window from there
        source = trainer.data_source
    if isinstance(source, str):
        source = DataSource.of(source, trainer.spec, trainer.dataset_options)
    if isinstance(source, DataSource):
        return {"name": source.name, "location": source.location, "options": source.options}
    return {"name": source.name, "location": None, "options": trainer.dataset_options}


def _metrics(event: EpochMetrics) -> dict[str, Any]:
    return {"epoch": event.epoch, "step": event.step, "train_loss": event.train_loss,
            "val_loss": finite_or_none(event.val_loss), "train_accuracy": event.train_accuracy,
            "val_accuracy": event.val_accuracy, "val_mae": event.val_mae}  # fmt: skip


def _weights_finite(trainer) -> bool:
    import torch

    model = trainer.model
    return model is not None and all(
        bool(torch.isfinite(p).all()) for p in model.state_dict().values() if p.is_floating_point()
    )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        layerlab = version("layerlab")
    except PackageNotFoundError:
        layerlab = "unknown"
    return {"layerlab": layerlab, "torch": torch.__version__, "python": sys.version.split()[0]}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _truncate_after(folder: Path, step: int) -> None:
    """Drop the records after ``step`` (a resume from an earlier checkpoint rewrites them)."""
    from engine.runs.folder import write_text_atomic

    jsonl, table = folder / METRICS_JSONL, folder / METRICS_CSV
    if jsonl.exists():
        kept = []
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except (ValueError, AttributeError):
                continue  # a torn or corrupt line goes with the rewrite
        write_text_atomic(jsonl, "".join(x + "\n" for x in kept))
    if table.exists():
        rows = table.read_text(encoding="utf-8").splitlines()
        kept = rows[:1] + [r for r in rows[1:] if _csv_step(r) is not None and _csv_step(r) <= step]
        write_text_atomic(table, "".join(x + "\n" for x in kept))


def _csv_step(row: str) -> int | None:
    parts = row.split(",")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return None
