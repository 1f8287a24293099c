"""The recorder: a Trainer callback that writes the run to its run folder as it goes.

The hot path costs one list append per step: step records are kept in memory and written
(metrics.jsonl, metrics.csv, TensorBoard) at most every ``flush_seconds``, at each epoch end
and at the end, so a SIGKILL loses at most that much of the curves, and at most the epoch in
progress of the weights. A write that fails (disk full, folder gone) stops the recording, not
the training: ``problem`` then says what happened.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.runs.checkpoint import keep_as_best, save_checkpoint
from engine.runs.folder import (
    METRICS_CSV,
    METRICS_JSONL,
    RUN_FILE,
    RUN_FORMAT,
    RUN_FORMAT_VERSION,
    TENSORBOARD,
    RunFolderError,
    finite_or_none,
    now_iso,
    write_json_atomic,
)
from engine.runs.probe_files import write_probe
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

CSV_COLUMNS = (
    "type", "step", "epoch", "time", "loss", "accuracy", "lr",
    "train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_mae",
)  # fmt: skip
FLUSH_SECONDS = 1.0
# TensorBoard gets a step's scalars at most this often (every step when steps are slower):
# one event costs ~0.1 ms to serialise, as much as a whole step of a small model. The full
# per-step history is in metrics.jsonl and metrics.csv.
TENSORBOARD_STEP_SECONDS = 0.05


class RunRecorder(Callback):
    """Writes ``trainer``'s run into ``folder`` (an existing, empty folder, or the folder of
    the run it resumes). ``checkpoint_every``: epochs between checkpoints (the best epoch and
    the end are always saved)."""

    def __init__(
        self,
        folder: str | os.PathLike,
        trainer,
        *,
        checkpoint_every: int = 1,
        flush_seconds: float = FLUSH_SECONDS,
        tensorboard: bool = True,
    ) -> None:
        self.folder, self.trainer = Path(folder), trainer
        self.checkpoint_every, self.flush_seconds = max(1, checkpoint_every), flush_seconds
        self.use_tensorboard = tensorboard
        self.problem: str | None = None  # why recording stopped, as a sentence
        self.checkpoint_seconds: list[float] = []  # how long each checkpoint held the loop
        self._steps: list[tuple[StepMetrics, float]] = []
        self._probes: dict[str, ProbeSnapshot] = {}
        self._next_flush = 0.0
        self._run: dict[str, Any] = {}
        self._epochs_done = 0
        self._checkpoint_step = -1
        self._jsonl = self._csv = self._tb = None
        self._tb_next = 0.0  # wall time of the next step TensorBoard gets
        self._last_info: dict[str, Any] | None = None  # the last checkpoint's JSON

    @property
    def started(self) -> bool:
        """Whether the run got as far as its first write (a run.json)."""
        return bool(self._run)

    # ------------------------------------------------------------ events

    def on_run_start(self, event: RunStarted) -> None:
        self._guard(self._start, event)

    def on_step_end(self, event: StepMetrics) -> None:
        self._steps.append((event, time.time()))
        if time.monotonic() >= self._next_flush:
            self._guard(self._flush)

    def on_epoch_end(self, event: EpochMetrics) -> None:
        self._guard(self._epoch, event)

    def on_settings_changed(self, event: SettingsChanged) -> None:
        self._marker({"type": "settings", "step": event.step, "changes": dict(event.changes)})

    def on_pause(self, event: Paused) -> None:
        self._marker({"type": "paused", "step": event.step, "paused": event.paused})
        self._run["paused"] = event.paused
        self._guard(self._write_run)

    def on_probe(self, event: ProbeSnapshot) -> None:
        self._probes[event.kind] = event  # the newest of each kind is written at the next flush

    def on_finish(self, event: Finished) -> None:
        self._guard(self._end, "stopped" if event.stopped_early else "finished", event.step, None)

    def on_fail(self, event: Failed) -> None:
        self._guard(self._end, "failed", event.step, event.message)

    # ------------------------------------------------------------ writing

    def _guard(self, write, *args) -> None:
        if self.problem is not None:
            return
        try:
            write(*args)
        except RunFolderError as err:
            self.problem = str(err)
        except OSError as err:
            self.problem = (
                f"Recording the run in '{self.folder}' stopped: {err.strerror or err}. "
                "Training goes on; the run folder holds what was written before."
            )
        if self.problem is not None:
            self._close()

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
        self._write_run()
        if first_step:
            _truncate_after(self.folder, first_step)
        new_csv = not (self.folder / METRICS_CSV).exists()
        self._jsonl = open(self.folder / METRICS_JSONL, "a", encoding="utf-8")  # noqa: SIM115
        self._csv = open(self.folder / METRICS_CSV, "a", encoding="utf-8", newline="")  # noqa: SIM115
        if new_csv:
            self._csv.write(",".join(CSV_COLUMNS) + "\n")
        if first_step:
            self._marker({"type": "resumed", "step": first_step, "epoch": event.first_epoch})
        if self.use_tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step: TensorBoard hides what an earlier, longer attempt wrote after it.
            self._tb = SummaryWriter(
                str(self.folder / TENSORBOARD), purge_step=first_step + 1 if first_step else None
            )
        self._next_flush = time.monotonic() + self.flush_seconds

    def _flush(self) -> None:
        steps, self._steps = self._steps, []
        if self._jsonl is None:
            return
        lines, rows = [], io.StringIO()
        table = csv.writer(rows, lineterminator="\n")
        for e, wall in steps:
            lines.append(json.dumps({
                "type": "step", "step": e.step, "epoch": e.epoch, "time": round(wall, 3),
                "loss": e.loss, "accuracy": e.accuracy, "lr": e.lr,
                "samples_per_second": round(e.samples_per_second, 1),
            }))  # fmt: skip
            table.writerow(
                (
                    "step",
                    e.step,
                    e.epoch,
                    round(wall, 3),
                    e.loss,
                    _cell(e.accuracy),
                    e.lr,
                    "",
                    "",
                    "",
                    "",
                    "",
                )
            )
        if lines:
            self._jsonl.write("\n".join(lines) + "\n")
            self._csv.write(rows.getvalue())
        self._jsonl.flush()
        self._csv.flush()
        if self._tb is not None:
            self._tb_next = _tensorboard_steps(self._tb, steps, self._tb_next)
        probes, self._probes = self._probes, {}
        for kind, snapshot in probes.items():
            write_probe(self.folder, kind, snapshot.step, snapshot.data, snapshot.error)
            if self._tb is not None and kind == "weight_histograms" and snapshot.data:
                _tensorboard_histograms(self._tb, snapshot)
        self._next_flush = time.monotonic() + self.flush_seconds

    def _epoch(self, event: EpochMetrics) -> None:
        self._epochs_done = event.epoch
        record = {"type": "epoch", "step": event.step, "epoch": event.epoch, "time": time.time(),
                  "train_loss": event.train_loss, "val_loss": finite_or_none(event.val_loss),
                  "train_accuracy": event.train_accuracy, "val_accuracy": event.val_accuracy,
                  "val_mae": event.val_mae, "seconds": event.seconds}  # fmt: skip
        self._flush()
        self._jsonl.write(json.dumps(record) + "\n")
        self._csv.write(",".join(_cell(record.get(c)) for c in CSV_COLUMNS) + "\n")
        if self._tb is not None:
            for name in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_mae"):
                if record[name] is not None:
                    self._tb.add_scalar(f"epoch/{name}", record[name], event.step)
            self._tb.flush()
        self._jsonl.flush()
        self._csv.flush()
        metric, value = best_metric(event)
        best = self._run.get("best")
        improved = value is not None and (
            best is None
            or best.get("metric") != metric
            or (value > best["value"] if metric == "val_accuracy" else value < best["value"])
        )
        self._run.update(epochs_done=event.epoch, step=event.step, final=_metrics(event))
        if improved:
            self._run["best"] = {
                "metric": metric,
                "value": value,
                "epoch": event.epoch,
                "step": event.step,
            }
        if improved or event.epoch % self.checkpoint_every == 0:
            self._checkpoint("epoch", _metrics(event))
            if improved:
                keep_as_best(self.folder, self._last_info)
        self._write_run()

    def _checkpoint(self, reason: str, metrics: dict[str, Any] | None) -> None:
        setup = self.trainer.setup
        if setup is None:
            return
        started = time.perf_counter()
        progress = self.trainer.progress(self._epochs_done)
        self._last_info = save_checkpoint(self.folder, model=setup.model, optimizer=setup.optimizer,
                        shuffle_rng=setup.shuffle_rng, progress=progress, metrics=metrics,
                        reason=reason)  # fmt: skip
        self._checkpoint_step = progress.step
        self._run["checkpoint"] = {"step": progress.step, "epochs_done": self._epochs_done}
        self.checkpoint_seconds.append(time.perf_counter() - started)

    def _end(self, status: str, step: int, message: str | None) -> None:
        if not self._run:  # the run failed before it started (bad settings, missing data)
            return
        self._flush()
        if self.trainer.step != self._checkpoint_step and _weights_finite(self.trainer):
            self._checkpoint(status, self._run.get("final"))
        self._run.update(
            status=status, ended_at=now_iso(), step=step, message=message, paused=False
        )
        self._write_run()
        self._close()

    def _marker(self, record: dict[str, Any]) -> None:
        if self._jsonl is not None and self.problem is None:
            self._guard(lambda: self._jsonl.write(json.dumps(record) + "\n"))

    def _write_run(self) -> None:
        if self._run:
            write_json_atomic(self.folder / RUN_FILE, self._run)

    def _close(self) -> None:
        for handle in (self._jsonl, self._csv, self._tb):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()
        self._jsonl = self._csv = self._tb = None


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
    if isinstance(source, str):
        source = DataSource.of(source, trainer.spec, trainer.dataset_options)
    if isinstance(source, DataSource):
        return {"name": source.name, "location": source.location, "options": source.options}
    return {"name": source.name, "location": None, "options": trainer.dataset_options}


def _metrics(event: EpochMetrics) -> dict[str, Any]:
    return {"epoch": event.epoch, "step": event.step, "train_loss": event.train_loss,
            "val_loss": finite_or_none(event.val_loss), "train_accuracy": event.train_accuracy,
            "val_accuracy": event.val_accuracy, "val_mae": event.val_mae}  # fmt: skip


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _weights_finite(trainer) -> bool:
    import torch

    model = trainer.model
    return model is not None and all(
        bool(torch.isfinite(p).all()) for p in model.state_dict().values() if p.is_floating_point()
    )


def _tensorboard_steps(writer, steps: list[tuple[StepMetrics, float]], next_wall: float) -> float:
    from tensorboard.compat.proto.summary_pb2 import Summary

    # One event per step holding all its scalars: a third of the cost of three add_scalar calls.
    for e, wall in steps:
        if wall < next_wall:
            continue
        next_wall = wall + TENSORBOARD_STEP_SECONDS
        values = [Summary.Value(tag="train/loss", simple_value=e.loss),
                  Summary.Value(tag="train/lr", simple_value=e.lr)]  # fmt: skip
        if e.accuracy is not None:
            values.append(Summary.Value(tag="train/accuracy", simple_value=e.accuracy))
        writer.file_writer.add_summary(Summary(value=values), e.step, wall)
    return next_wall


def _tensorboard_histograms(writer, snapshot: ProbeSnapshot) -> None:
    for h in snapshot.data:
        counts, edges = np.asarray(h.counts, dtype=np.float64), np.asarray(h.edges, np.float64)
        if counts.sum() == 0:
            continue
        centres = (edges[:-1] + edges[1:]) / 2
        writer.add_histogram_raw(
            f"weights/{h.block_id}", min=float(edges[0]), max=float(edges[-1]),
            num=int(counts.sum()), sum=float((counts * centres).sum()),
            sum_squares=float((counts * centres**2).sum()), bucket_limits=edges[1:].tolist(),
            bucket_counts=counts.tolist(), global_step=snapshot.step,
        )  # fmt: skip


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
