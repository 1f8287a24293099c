"""Shared steps after reading: validation split, normalisation and final checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from .dataset import Dataset
from .errors import DatasetError


def check_val_fraction(val_fraction: float) -> float:
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, int | float):
        raise DatasetError(f"The validation fraction must be a number, not {val_fraction!r}.")
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(
            f"The validation fraction must be at least 0 and below 1, not {val_fraction:g}; "
            "0.2 keeps a fifth of the samples for validation."
        )
    return float(val_fraction)


def split_indices(
    n: int, val_fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation indices; stratified by ``labels`` so class balance survives."""
    rng = np.random.default_rng([int(seed), 0x5B117])  # independent of the data generator
    if labels is None:
        groups = [np.arange(n)]
    else:
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    train, val = [], []
    for idx in groups:
        idx = rng.permutation(idx)
        n_val = int(round(len(idx) * val_fraction))
        if val_fraction > 0 and len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)  # both splits see every class
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    # Shuffle again across groups so a stratified split is not sorted by class.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(val))


def check_finite(array: np.ndarray, what: str, path: str | None) -> None:
    """Raise a DatasetError naming the first NaN/Inf sample in ``array``."""
    if not np.issubdtype(array.dtype, np.floating):
        return
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1) if array.size else None
    if bad is not None and bad.any():
        first = int(np.flatnonzero(bad)[0])
        where = f" in '{path}'" if path else ""
        raise DatasetError(
            f"There are NaN or infinite values in {what}{where} ({int(bad.sum())} samples, the "
            f"first is sample {first}). Remove or fill in those values and load it again.",
            path=path,
        )


def scale_images(x: np.ndarray) -> np.ndarray:
    """Images to float32 in [0, 1]: integer pixels by their dtype's range, floats by min/max."""
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        top = 1.0 if x.dtype == np.bool_ else float(np.iinfo(x.dtype).max)
        if np.issubdtype(x.dtype, np.integer) and x.size and int(x.max()) <= 255 < top:
            top = 255.0  # 8-bit pixels stored in a wider integer type
        lo = min(0.0, float(x.min())) if x.size else 0.0
        return ((x.astype(np.float32) - lo) / (top - lo)).astype(np.float32)
    x = x.astype(np.float32)
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0.0 and hi <= 1.0:
        return x
    return ((x - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)


def standardise(
    x_train: np.ndarray, x_val: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-feature (last axis) standardisation with train-split statistics only."""
    axes = tuple(range(x_train.ndim - 1))
    source = x_train if len(x_train) else x_val
    mean = source.mean(axis=axes, dtype=np.float64).astype(np.float32)
    std = source.std(axis=axes, dtype=np.float64).astype(np.float32)
    std[~(std > 1e-12)] = 1.0  # a constant feature stays constant instead of dividing by 0
    return (
        ((x_train - mean) / std).astype(np.float32),
        ((x_val - mean) / std).astype(np.float32),
        mean,
        std,
    )


def build(
    *,
    name: str,
    task: str,
    input_kind: str,
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    val_fraction: float,
    class_names: tuple[str, ...] | None = None,
    standardise_x: bool = False,
    standardise_y: bool = False,
    **extra: Any,
) -> Dataset:
    """Split ``x``/``y`` (already float32 x and final-dtype y) into a Dataset."""
    labels = y if task == "classification" else None
    train, val = split_indices(len(x), val_fraction, seed, labels)
    return from_splits(
        name=name,
        task=task,
        input_kind=input_kind,
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        class_names=class_names,
        standardise_x=standardise_x,
        standardise_y=standardise_y,
        **extra,
    )


def from_splits(
    *,
    name: str,
    task: str,
    input_kind: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    class_names: tuple[str, ...] | None = None,
    standardise_x: bool = False,
    standardise_y: bool = False,
    **extra: Any,
) -> Dataset:
    """A Dataset from given splits, standardising with train statistics when asked."""
    if standardise_x:
        x_train, x_val, extra["x_mean"], extra["x_std"] = standardise(x_train, x_val)
    if standardise_y:
        y_train, y_val, extra["y_mean"], extra["y_std"] = standardise(y_train, y_val)
    return Dataset(
        name=name,
        task=task,
        x_train=np.ascontiguousarray(x_train, dtype=np.float32),
        y_train=np.ascontiguousarray(y_train),
        x_val=np.ascontiguousarray(x_val, dtype=np.float32),
        y_val=np.ascontiguousarray(y_val),
        input_kind=input_kind,
        input_shape=tuple(x_train.shape[1:]),
        class_names=class_names,
        **extra,
    )
