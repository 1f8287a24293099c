"""Turning raw x/y arrays into model-ready ones: kind and task inference, label checks.

Shared by the .npz loader and usable by anyone holding numpy arrays already.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DatasetError

MAX_CLASSES = 1000


def infer_kind(x: np.ndarray, kind: str | None, path: str) -> tuple[str, np.ndarray]:
    """("image" | "sequence" | "vector", x reshaped to (N, C, H, W) | (N, T, F) | (N, F)).

    4-D is images, 3-D sequences, 2-D vectors; ``kind`` overrides. Channels-last images
    (N, H, W, C with C of 1, 3 or 4) are moved to channels-first as torch expects.
    """
    if kind is None:
        kind = {4: "image", 3: "sequence", 2: "vector", 1: "vector"}.get(x.ndim)
        if kind is None:
            raise DatasetError(
                f"The array x in '{path}' has {x.ndim} dimensions {x.shape}; LayerLab reads "
                "images (N, C, H, W), sequences (N, T, F) or vectors (N, F).",
                path=path,
            )
    if kind == "image":
        if x.ndim == 3:
            return kind, x[:, None]  # grey images without a channel axis
        if x.ndim == 4:
            if x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
                x = np.moveaxis(x, -1, 1)
            return kind, x
    elif kind == "sequence":
        if x.ndim == 2:
            return kind, x[:, :, None]  # one feature per step
        if x.ndim == 3:
            return kind, x
    elif kind == "vector" and x.ndim >= 1:
        return kind, x.reshape(len(x), -1)
    raise DatasetError(
        f"The array x in '{path}' has shape {x.shape}, which cannot be read as {kind} data; "
        "images are (N, C, H, W) or (N, H, W), sequences (N, T, F) or (N, T).",
        path=path,
    )


def infer_task(y: np.ndarray, task: str | None) -> str:
    """Integer labels mean classification, floating-point targets regression."""
    if task is not None:
        return task
    return "classification" if y.dtype.kind in "biu" else "regression"


def class_labels(
    y: np.ndarray, path: str, what: str = "y", class_names: Any = None
) -> tuple[np.ndarray, int]:
    """(int64 labels, number of classes); one-hot rows become indices."""
    if y.ndim == 2 and y.shape[1] > 1:
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DatasetError(
                f"The labels {what} in '{path}' have shape {y.shape} but are not one-hot rows; "
                "give one class number per sample, shape (N,).",
                path=path,
            )
        y = y.argmax(axis=1)
    y = y.reshape(len(y), -1)
    if y.shape[1] != 1:
        raise DatasetError(
            f"The labels {what} in '{path}' have shape {y.shape}; give one class number per "
            "sample, shape (N,).",
            path=path,
        )
    y = y[:, 0]
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise DatasetError(
                f"The labels {what} in '{path}' contain NaN or infinite values.", path=path
            )
        if (y != np.round(y)).any():
            first = int(np.flatnonzero(y != np.round(y))[0])
            raise DatasetError(
                f"Label {y[first]:g} of sample {first} in '{path}' is not a whole number; "
                "classification needs class numbers 0, 1, 2, … (or choose regression).",
                path=path,
            )
    elif y.dtype.kind not in "biu":
        raise DatasetError(
            f"The labels {what} in '{path}' are of type {y.dtype}, not numbers.", path=path
        )
    if y.size and y.min() < 0:
        first = int(np.flatnonzero(y < 0)[0])
        raise DatasetError(
            f"Label {y[first]:g} of sample {first} in '{path}' is negative; class labels must "
            "be 0, 1, 2, …",
            path=path,
        )
    y = y.astype(np.int64)
    top = int(y.max()) if y.size else -1
    if class_names is not None:
        k = len(class_names)
        if top >= k:
            first = int(np.flatnonzero(y >= k)[0])
            raise DatasetError(
                f"Label {top} (sample {first}) in '{path}' is out of range for the {k} class "
                f"names given: labels must be 0 to {k - 1}.",
                path=path,
            )
        return y, k
    if top >= MAX_CLASSES:
        raise DatasetError(
            f"The labels {what} in '{path}' go up to {top}, which is out of range for class "
            f"numbers (at most {MAX_CLASSES} classes). If y holds values to predict, save it as "
            "floating point to make this a regression task.",
            path=path,
        )
    return y, top + 1


def regression_targets(y: np.ndarray) -> np.ndarray:
    """Float32 targets of shape (N, K)."""
    return y.reshape(len(y), -1).astype(np.float32)
