"""What the Runs panel says about runs: the settings that differ between them, the legend
label that names a run by them, its duration and best metric, and two runs side by side.

No Qt and no torch: plain functions of run.json's fields and metric arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

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


def spec_summary(run: RunInfo) -> str:
    """The model as its blocks, in order: "lstm(hidden_size 32) → dense(units 4)"."""
    spec = run.get("spec") if isinstance(run.get("spec"), dict) else {}
    parts = []
    for block in spec.get("blocks") or ():
        if not isinstance(block, dict):
            continue
        params = block.get("params") if isinstance(block.get("params"), dict) else {}
        shown = ", ".join(f"{k} {_value(v)}" for k, v in params.items())
        parts.append(f"{block.get('type')}({shown})" if shown else str(block.get("type")))
    return " → ".join(parts)


def comparison_rows(first: RunInfo, second: RunInfo) -> list[tuple[str, str, str, bool]]:
    """Two runs side by side: (what, first's value, second's value, whether they differ) for
    the model, the dataset, the seed and device, and every training setting either run has."""

    def dataset(run: RunInfo) -> str:
        data = run.get("dataset") if isinstance(run.get("dataset"), dict) else {}
        options = data.get("options") if isinstance(data.get("options"), dict) else {}
        extra = ", ".join(f"{k} {_value(v)}" for k, v in sorted(options.items()))
        return f"{dataset_title(run)} ({extra})" if extra else dataset_title(run)

    rows = [
        ("run", first.name, second.name),
        ("model", str(first.get("model_name") or ""), str(second.get("model_name") or "")),
        ("blocks", spec_summary(first), spec_summary(second)),
        ("dataset", dataset(first), dataset(second)),
        ("seed", _value(first.get("seed")), _value(second.get("seed"))),
        ("device", _value(first.get("device")), _value(second.get("device"))),
    ]
    settings = [r.get("settings") if isinstance(r.get("settings"), dict) else {}
                for r in (first, second)]  # fmt: skip
    for key in sorted(set(settings[0]) | set(settings[1])):
        a, b = (_value(s[key]) if key in s else "(not set)" for s in settings)
        rows.append((SHORT_NAMES.get(key, key), a, b))
    rows += [
        ("epochs done", _value(first.get("epochs_done")), _value(second.get("epochs_done"))),
        ("best", best_text(first), best_text(second)),
        ("status", first.status, second.status),
    ]
    # The run's own name always differs and is what the columns are headed by: not a difference.
    return [(what, a, b, what != "run" and a != b) for what, a, b in rows]


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
