"""The one dataset type every built-in set and file loader produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

TASKS = ("classification", "regression", "forecast")
INPUT_KINDS = ("image", "sequence", "vector")
# Number of axes of one sample for each kind: image (C,H,W), sequence (T,F), vector (F,).
_SAMPLE_NDIM = {"image": 3, "sequence": 2, "vector": 1}


# eq=False: generated __eq__ would compare numpy arrays and raise on truth value; a dataset
# is compared by identity (or by its ``source`` and ``options``).
@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and validation arrays with what a model needs to know about them.

    x arrays are float32 (N, *input_shape); y is int64 (N,) class indices for classification,
    float32 (N, K) targets for regression and forecasting. ``x_mean``/``x_std`` hold the
    train-split statistics used to standardise vectors and sequences (None when the data was
    not standardised), ``y_mean``/``y_std`` the same for regression targets, so predictions can
    be mapped back with :meth:`denormalise_y`.
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    input_kind: str
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...] | None
    description: str = ""
    source: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    x_mean: np.ndarray | None = None
    x_std: np.ndarray | None = None
    y_mean: np.ndarray | None = None
    y_std: np.ndarray | None = None
    skipped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # These are programming errors in a loader, not user errors, hence ValueError.
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"unknown input kind {self.input_kind!r}")
        shape = tuple(int(d) for d in self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        if len(shape) != _SAMPLE_NDIM[self.input_kind]:
            raise ValueError(f"{self.input_kind} input shape {shape} has the wrong rank")
        for split in ("train", "val"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != np.float32 or x.shape[1:] != shape:
                raise ValueError(
                    f"x_{split} is {x.dtype} {x.shape}, expected float32 (N, *{shape})"
                )
            if len(x) != len(y):
                raise ValueError(f"x_{split} and y_{split} differ in length")
            if self.task == "classification":
                if y.dtype != np.int64 or y.ndim != 1:
                    raise ValueError(f"y_{split} must be int64 (N,) for classification")
            elif y.dtype != np.float32 or y.ndim != 2:
                raise ValueError(f"y_{split} must be float32 (N, K) for {self.task}")
        if (self.task == "classification") != (self.class_names is not None):
            raise ValueError("class_names is required for classification and only for it")
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))

    @property
    def num_outputs(self) -> int:
        """Number of classes for classification, else the number of target values K."""
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.y_train.shape[1])

    @property
    def num_train(self) -> int:
        return len(self.x_train)

    @property
    def num_val(self) -> int:
        return len(self.x_val)

    def class_counts(self, split: str = "train") -> np.ndarray | None:
        """Samples per class in ``split`` ("train" or "val"); None unless classification."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', not {split!r}")
        if self.class_names is None:
            return None
        y = self.y_train if split == "train" else self.y_val
        return np.bincount(y, minlength=len(self.class_names)).astype(np.int64)

    def denormalise_y(self, y: np.ndarray) -> np.ndarray:
        """Map standardised regression targets or predictions back to the file's units."""
        if self.y_mean is None or self.y_std is None:
            return np.asarray(y)
        return np.asarray(y) * self.y_std + self.y_mean
