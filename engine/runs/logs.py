"""The run's appended logs: metrics.jsonl, metrics.csv and the TensorBoard event files.

Used only on the run's writer thread (engine/runs/writer.py): the recorder hands it step
records, epoch records, markers and probe snapshots in the order they happened.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.runs.folder import METRICS_CSV, METRICS_JSONL, TENSORBOARD
from engine.training.events import ProbeSnapshot, StepMetrics

CSV_COLUMNS = (
    "type", "step", "epoch", "time", "loss", "accuracy", "lr",
    "train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_mae",
)  # fmt: skip
# TensorBoard gets a step's scalars at most this often (every step when steps are slower):
# one event costs ~0.1 ms to serialise, as much as a whole step of a small model. The full
# per-step history is in metrics.jsonl and metrics.csv.
TENSORBOARD_STEP_SECONDS = 0.05
TENSORBOARD_FLUSH_SECONDS = 1.0
EPOCH_SCALARS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_mae")


class RunLogs:
    """The open log files of one run folder; ``first_step`` > 0: a resumed run (TensorBoard
    hides what an earlier, longer attempt wrote after it)."""

    def __init__(self, folder: Path, first_step: int, tensorboard: bool) -> None:
        new_csv = not (folder / METRICS_CSV).exists()
        self._jsonl = open(folder / METRICS_JSONL, "a", encoding="utf-8")  # noqa: SIM115
        self._csv = open(folder / METRICS_CSV, "a", encoding="utf-8", newline="")  # noqa: SIM115
        if new_csv:
            self._csv.write(",".join(CSV_COLUMNS) + "\n")
        self._tb = None
        self._tb_next = 0.0  # wall time of the next step TensorBoard gets
        self._tb_flushed = 0.0  # monotonic time of the event file's last flush
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = first_step + 1 if first_step else None
            self._tb = SummaryWriter(str(folder / TENSORBOARD), purge_step=purge)

    def records(self, records: list[tuple[StepMetrics, float] | dict[str, Any]]) -> None:
        """Append records in order (a step as its event and wall time, an epoch as its record)
        to both tables and TensorBoard, and flush the tables to disk."""
        lines, rows, steps = [], [], []
        for record in records:
            if isinstance(record, dict):
                lines.append(json.dumps(record) + "\n")
                rows.append(",".join(_cell(record.get(c)) for c in CSV_COLUMNS) + "\n")
                if self._tb is not None:
                    self._tensorboard_epoch(record)
            else:
                line, row = _step_texts(*record)
                lines.append(line)
                rows.append(row)
                steps.append(record)
        self._jsonl.write("".join(lines))
        self._csv.write("".join(rows))
        self._jsonl.flush()
        self._csv.flush()
        if self._tb is not None:
            self._tb_next = _tensorboard_steps(self._tb, steps, self._tb_next)
            self._flush_tensorboard()

    def _tensorboard_epoch(self, record: dict[str, Any]) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        values = [Summary.Value(tag=f"epoch/{name}", simple_value=record[name])
                  for name in EPOCH_SCALARS if record[name] is not None]  # fmt: skip
        self._tb.file_writer.add_summary(Summary(value=values), record["step"], record["time"])

    def marker(self, record: dict[str, Any]) -> None:
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()

    def histograms(self, snapshot: ProbeSnapshot) -> None:
        if self._tb is not None and snapshot.kind == "weight_histograms" and snapshot.data:
            _tensorboard_histograms(self._tb, snapshot)

    def _flush_tensorboard(self) -> None:
        """Flush the event file at most every TENSORBOARD_FLUSH_SECONDS (SummaryWriter's own
        default is every 120 s): TensorBoard shows a long epoch's steps as they come, and ten
        short epochs a second do not wait on ten flushes."""
        now = time.monotonic()
        if now - self._tb_flushed >= TENSORBOARD_FLUSH_SECONDS:
            self._tb.flush()
            self._tb_flushed = now

    def close(self) -> None:
        for handle in (self._jsonl, self._csv, self._tb):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _step_texts(e: StepMetrics, wall: float) -> tuple[str, str]:
    """A step's metrics.jsonl line and metrics.csv row.

    Formatted directly: this runs on the writer thread for every step, and the training thread
    waits for the interpreter lock meanwhile; json.dumps of a dict plus csv.writer took twice as
    long (13 µs against 6). The text is the same (floats as repr(), as json and csv write them;
    null and an empty cell for no accuracy; NaN and infinities through json.dumps)."""
    wall, speed = round(wall, 3), round(e.samples_per_second, 1)
    acc = e.accuracy
    if not (math.isfinite(e.loss) and math.isfinite(e.lr) and math.isfinite(speed)) or (
        acc is not None and not math.isfinite(acc)
    ):  # NaN and infinities as json writes them
        line = json.dumps({"type": "step", "step": e.step, "epoch": e.epoch, "time": wall,
                           "loss": e.loss, "accuracy": acc, "lr": e.lr,
                           "samples_per_second": speed})  # fmt: skip
    else:
        line = (
            f'{{"type": "step", "step": {e.step}, "epoch": {e.epoch}, "time": {wall!r}, '
            f'"loss": {float(e.loss)!r}, "accuracy": {"null" if acc is None else repr(float(acc))}, '
            f'"lr": {float(e.lr)!r}, "samples_per_second": {speed!r}}}'
        )
    row = f"step,{e.step},{e.epoch},{wall!r},{e.loss!r},{_cell(acc)},{e.lr!r},,,,,\n"
    return line + "\n", row


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
