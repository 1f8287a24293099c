"""CSV datasets: tabular (one row per sample, a chosen target column) and time series
(sliding windows over chosen columns, forecasting the next value)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .csvfile import CsvTable, is_number, not_a_number, read_csv
from .dataset import Dataset
from .errors import DatasetError
from .options import choice, positive_int, take_options
from .prepare import build, from_splits, standardise
from .resources import MemoryEstimate, Progress, require_memory

_DEFAULTS = {
    "layout": None,  # "tabular" | "series"; "series" when a window is given
    "target": None,  # tabular: the label column (default last); series: predicted column(s)
    "features": None,  # tabular: input columns (default all others)
    "task": None,  # tabular: "classification" | "regression" (default from the target)
    "columns": None,  # series: input columns (default every numeric column)
    "window": None,  # series: steps per input sequence
    "horizon": 1,  # series: predict this many steps after the window
    "header": None,  # True/False; default: detected
    "delimiter": None,  # default: detected among , ; tab |
    "skip_rows": None,  # lines before the header or data; default: a line of counts, if any
    "normalise": True,
}
# A numeric target with at most this many distinct whole-number values is read as classes.
MAX_AUTO_CLASSES = 20
MAX_CLASSES = 1000


def load_csv(
    path: Path, *, seed: int, val_fraction: float, progress: Progress, **options: Any
) -> Dataset:
    where = str(path)
    opts = take_options(options, _DEFAULTS, where, "CSV")
    layout = opts["layout"] or ("series" if opts["window"] is not None else "tabular")
    choice(layout, ("tabular", "series"), "layout", where)
    if opts["task"] is not None:
        choice(opts["task"], ("classification", "regression"), "task", where)
    if opts["skip_rows"] is not None:
        positive_int(opts["skip_rows"], "skip_rows", where, minimum=0)
    read = dict(header=opts["header"], delimiter=opts["delimiter"], skip_rows=opts["skip_rows"])
    meta = dict(
        name=path.name,
        source=where,
        options={"seed": seed, "val_fraction": val_fraction, **opts, "layout": layout},
    )
    if layout == "tabular":
        return _tabular(path, opts, read, seed, val_fraction, progress, meta)
    return _series(path, opts, read, val_fraction, progress, meta)


# ----- tabular -----------------------------------------------------------------------------


def _tabular(path, opts, read, seed, val_fraction, progress, meta) -> Dataset:
    chosen: dict[str, Any] = {}

    def select(names: list[str], first: list[str]) -> tuple[list[int], list[int]]:
        target = _column(opts["target"] if opts["target"] is not None else -1, names, path)
        if opts["features"] is None:
            features = [i for i in range(len(names)) if i != target]
        else:
            features = [_column(f, names, path) for f in opts["features"]]
        if target in features:
            raise DatasetError(
                f"Column '{names[target]}' of '{path}' is both the target and an input.",
                path=str(path),
            )
        if not features:
            raise DatasetError(
                f"'{path}' has no input columns besides the target '{names[target]}'.",
                path=str(path),
            )
        chosen.update(target=target, features=features)
        return features, [target]

    table = read_csv(path, progress, select, **read)
    target = chosen["target"]
    labels = table.text[target]
    task, y, class_names = _target(path, table, target, labels, opts["task"])
    names = table.counts_line_names
    # The counts line names the classes 0, 1, 2, … of the last column.
    last = target == len(table.names) - 1
    if names and last and class_names == tuple(str(i) for i in range(len(names))):
        class_names = names
    return build(
        task=task,
        input_kind="vector",
        x=table.numeric.astype(np.float32),
        y=y,
        seed=seed,
        val_fraction=val_fraction,
        class_names=class_names,
        standardise_x=bool(opts["normalise"]),
        standardise_y=bool(opts["normalise"]) and task == "regression",
        description=(
            f"Table {path.name}: predict '{table.names[target]}' from "
            f"{len(chosen['features'])} columns"
        ),
        **meta,
    )


def _target(path: Path, table: CsvTable, target: int, labels: list[str], task: str | None):
    name = table.names[target]
    numeric = all(is_number(v) for v in labels)
    if task == "regression" or (task is None and numeric):
        if not numeric:
            i = next(i for i, v in enumerate(labels) if not is_number(v))
            raise not_a_number(path, int(table.lines[i]), name, labels[i])
        values = np.array([float(v) for v in labels])
        if not np.isfinite(values).all():
            i = int(np.flatnonzero(~np.isfinite(values))[0])
            raise DatasetError(
                f"Line {table.lines[i]}, column '{name}' of '{path}' is {labels[i]}; LayerLab "
                "needs finite numbers. Fill in or remove that value.",
                path=str(path),
            )
        whole = (values == np.round(values)).all()
        if task == "regression" or not whole or len(np.unique(values)) > MAX_AUTO_CLASSES:
            return "regression", values.astype(np.float32)[:, None], None
        classes = np.unique(values)
        names = tuple(str(int(v)) for v in classes)
        return "classification", np.searchsorted(classes, values).astype(np.int64), names
    if not all(labels):
        i = labels.index("")
        raise DatasetError(
            f"Line {table.lines[i]}, column '{name}' of '{path}' is empty: every sample needs a "
            "label.",
            path=str(path),
        )
    classes, y = np.unique(np.array(labels), return_inverse=True)
    if len(classes) > MAX_CLASSES:
        raise DatasetError(
            f"The target column '{name}' of '{path}' has {len(classes)} different values, too "
            f"many for classes (at most {MAX_CLASSES}). Choose another target column.",
            path=str(path),
        )
    return "classification", y.astype(np.int64), tuple(str(c) for c in classes)


def _column(spec: Any, names: list[str], path: Path) -> int:
    """A column by name, or by 0-based index (negative counts from the end)."""
    if isinstance(spec, str) and spec in names:
        return names.index(spec)
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)  # typed into the panel's text field: a column number, not a name
    if isinstance(spec, int) and not isinstance(spec, bool) and -len(names) <= spec < len(names):
        return spec % len(names)
    shown = ", ".join(f"'{n}'" for n in names[:12]) + (", …" if len(names) > 12 else "")
    raise DatasetError(f"'{path}' has no column {spec!r}. Its columns are {shown}.", path=str(path))


# ----- time series -------------------------------------------------------------------------


def _series(path, opts, read, val_fraction, progress, meta) -> Dataset:
    where = str(path)
    window = positive_int(opts["window"] if opts["window"] is not None else 20, "window", where)
    horizon = positive_int(opts["horizon"], "horizon", where)
    chosen: dict[str, list[int]] = {}

    def select(names: list[str], first: list[str]) -> tuple[list[int], list[int]]:
        if opts["columns"] is None:
            columns = [i for i, cell in enumerate(first) if is_number(cell)]
            if not columns:
                raise DatasetError(
                    f"'{path}' has no numeric column to forecast (its first data line holds no "
                    "numbers).",
                    path=where,
                )
        else:
            columns = [_column(c, names, path) for c in _as_list(opts["columns"])]
        if opts["target"] is None:
            targets = list(columns)
        else:
            targets = [_column(c, names, path) for c in _as_list(opts["target"])]
        chosen.update(columns=columns, targets=targets)
        return sorted(set(columns) | set(targets)), []

    table = read_csv(path, progress, select, **read)
    position = {c: i for i, c in enumerate(table.numeric_columns)}
    series = table.numeric.astype(np.float32)
    inputs = series[:, [position[c] for c in chosen["columns"]]]
    targets = series[:, [position[c] for c in chosen["targets"]]]
    n_rows = len(series)
    n_windows = n_rows - window - horizon + 1
    if n_windows < 2:
        raise DatasetError(
            f"'{path}' has {n_rows} data lines, too few for windows of {window} steps "
            f"forecasting {horizon} step(s) ahead. Use a shorter window (at most "
            f"{max(n_rows - horizon - 1, 1)}).",
            path=where,
        )
    # Chronological split: validation windows forecast the last part of the series, so the
    # model is judged on a future it has not seen (a random split would leak it).
    n_val = int(round(n_windows * val_fraction))
    if val_fraction > 0:
        n_val = min(max(n_val, 1), n_windows - 1)
    n_train = n_windows - n_val
    train_rows = n_train + window + horizon - 1  # rows seen by training windows and targets
    extra: dict[str, Any] = {}
    if opts["normalise"]:
        _, _, x_mean, x_std = standardise(inputs[:train_rows], inputs[:0])
        _, _, y_mean, y_std = standardise(targets[:train_rows], targets[:0])
        inputs, targets = (inputs - x_mean) / x_std, (targets - y_mean) / y_std
        extra = dict(x_mean=x_mean, x_std=x_std, y_mean=y_mean, y_std=y_std)
    # Each window copies `window` lines: a long window over a long series is far larger than
    # the file, so it is counted (and refused) before the windows are made.
    held = series.nbytes + inputs.nbytes + targets.nbytes
    windows = n_windows * (window * inputs.shape[1] + targets.shape[1]) * 4
    require_memory(
        MemoryEstimate(reading=held, dataset=windows), path, f"Windows of {window} lines"
    )
    # (windows, F, window) -> (windows, window, F)
    x = np.lib.stride_tricks.sliding_window_view(inputs, window, axis=0)[:n_windows]
    x = np.ascontiguousarray(np.swapaxes(x, 1, 2), dtype=np.float32)
    y = np.ascontiguousarray(targets[window + horizon - 1 :], dtype=np.float32)
    names = ", ".join(table.names[c] for c in chosen["targets"])
    return from_splits(
        task="forecast",
        input_kind="sequence",
        x_train=x[:n_train],
        y_train=y[:n_train],
        x_val=x[n_train:],
        y_val=y[n_train:],
        class_names=None,
        description=f"Series {path.name}: forecast {names} {horizon} step(s) after {window}",
        **extra,
        **meta,
    )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
