"""What the Runs panel says about runs: the settings that differ between them, the legend
label that names a run by them, its duration and best metric, and curves thinned for drawing.

No Qt and no torch: plain functions of run.json's fields and metric arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engine.runs.folder import RunInfo

# Settings that change where or how a run is watched, not what it learns: never "a difference".
NOT_COMPARED = frozenset({
    "torch_threads", "probes", "probe_kinds", "probe_sample_index", "probe_intervals",
    "probe_budget", "record", "runs_folder", "checkpoint_every", "val_batch_size",
})  # fmt: skip
# Settings by the name a person says (the rest by their field name).
SHORT_NAMES = {"batch_size": "batch", "lr_schedule": "schedule", "weight_decay": "wd"}
MAX_LABEL_MODEL = 24  # characters of a model's name in a legend entry


def differing_settings(runs: Sequence[RunInfo]) -> list[str]:
    """The training settings whose values are not the same in every run (sorted by name)."""
    settings = [r.get("settings") if isinstance(r.get("settings"), dict) else {} for r in runs]
    keys = sorted({k for s in settings for k in s} - NOT_COMPARED)
    return [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1]


def settings_text(run: RunInfo, keys: Sequence[str]) -> str:
    """``keys`` of the run's settings as "lr 0.001 · batch 32"."""
    settings = run.get("settings") if isinstance(run.get("settings"), dict) else {}
    return " · ".join(f"{SHORT_NAMES.get(k, k)} {_value(settings.get(k))}" for k in keys)


def run_label(run: RunInfo, keys: Sequence[str], models_differ: bool) -> str:
    """A legend entry that names the run by what differs: "LSTM · lr 0.001". With nothing
    differing the start time tells runs apart."""
    model = str(run.get("model_name") or "model")
    if len(model) > MAX_LABEL_MODEL:  # model names can be sentences
        model = model[: MAX_LABEL_MODEL - 1] + "…"
    differs = settings_text(run, keys)
    parts = [model] if models_differ or not differs else []
    if differs:
        parts.append(differs)
    if not models_differ and not differs:
        parts.append(date_text(run))
    return " · ".join(parts)


def dataset_title(run: RunInfo) -> str:
    dataset = run.get("dataset")
    if isinstance(dataset, dict):
        return str(dataset.get("title") or dataset.get("name") or "")
    return ""


def date_text(run: RunInfo) -> str:
    start = _time(run.get("started_at"))
    return start.strftime("%Y-%m-%d %H:%M") if start else ""


def duration_text(run: RunInfo) -> str:
    """How long the run trained ("1 min 5 s"); empty while its end is unknown."""
    start, end = _time(run.get("started_at")), _time(run.get("ended_at"))
    if start is None or end is None:
        return ""
    seconds = max(0, round((end - start).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    return f"{minutes // 60} h {minutes % 60} min"


def best_text(run: RunInfo) -> str:
    """The best validation metric: "val_accuracy 93.1 % (epoch 4)"."""
    best = run.get("best")
    if not isinstance(best, dict) or not isinstance(best.get("value"), int | float):
        return ""
    metric, value = str(best.get("metric") or ""), float(best["value"])
    shown = f"{value:.1%}" if "accuracy" in metric else f"{value:.4g}"
    epoch = f" (epoch {best['epoch']})" if isinstance(best.get("epoch"), int) else ""
    return f"{metric} {shown}{epoch}"


def peak_downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, ...]:
    """At most ``max_points`` points that keep each bucket's lowest and highest value, so a
    spike (a diverging step) survives as pyqtgraph's peak mode keeps it on screen."""
    n = len(x)
    if n <= max_points:
        return x, y
    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = np.empty(2 * buckets, dtype=np.int64)
    filled = np.where(np.isfinite(y), y, np.nanmean(y) if np.isfinite(y).any() else 0.0)
    for b in range(buckets):  # ~2,000 buckets: a loop of numpy calls, not of points
        lo, hi = edges[b], edges[b + 1]
        part = filled[lo:hi]
        first, second = lo + int(np.argmin(part)), lo + int(np.argmax(part))
        keep[2 * b], keep[2 * b + 1] = min(first, second), max(first, second)
    return x[keep], y[keep]


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
