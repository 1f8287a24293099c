"""What the probes hand to the views: small frozen dataclasses of read-only numpy arrays.

No torch here: the window imports these to draw snapshots before torch has loaded, and they
cross the process boundary pickled. The functions that compute them live beside this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np


class ProbeError(ValueError):
    """A probe cannot run on this model or input; the message names the block and the fix."""


@dataclass(frozen=True)
class FilterSet:
    """The weights (out, in, kh, kw) of one Conv2d and the symmetric colour level ±level."""

    block_id: str
    weights: np.ndarray
    level: float


@dataclass(frozen=True)
class FeatureMap:
    """One layer's output for one sample: maps (C, H, W), kind 'conv', 'activation' or 'pool'."""

    block_id: str
    block_type: str
    kind: str
    maps: np.ndarray
    level: float


@dataclass(frozen=True)
class BlockOutput:
    """One block's output for the probe sample, without the batch axis: (C, H, W) for an image
    stack, (T, features) for a sequence, (features,) for a vector; level is its largest |value|
    (1.0 when all are zero)."""

    block_id: str
    values: np.ndarray
    level: float


@dataclass(frozen=True)
class Histogram:
    """counts (bins,) int64 over edges (bins + 1,) float32; non_finite counts NaN/inf values."""

    block_id: str
    counts: np.ndarray
    edges: np.ndarray
    non_finite: int


@dataclass(frozen=True)
class ClassificationReport:
    """confusion[true, predicted] (K, K) int64; per-sample predictions, correct flags, confidence."""

    confusion: np.ndarray
    predictions: np.ndarray
    correct: np.ndarray
    confidence: np.ndarray
    accuracy: float


@dataclass(frozen=True)
class ForecastReport:
    """Predicted and true values (same shape, float32) and their mean squared/absolute error."""

    predicted: np.ndarray
    target: np.ndarray
    mse: float
    mae: float


#: What each mode's trace holds, in order; every array is (T, hidden).
GATE_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "LSTM": ("input", "forget", "candidate", "output", "cell", "hidden"),
        "GRU": ("reset", "update", "candidate", "hidden"),
        "RNN_TANH": ("hidden",),
        "RNN_RELU": ("hidden",),
    }
)


@dataclass(frozen=True)
class LayerTrace:
    """One layer and direction (0 forward, 1 reverse) of a recurrent block.

    `gates` maps each name of GATE_NAMES[mode] to a read-only float32 (T, hidden) array,
    in the input's time order for both directions.
    """

    layer: int
    direction: int
    gates: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class RecurrentTrace:
    """Gates and states of every layer and direction of one recurrent block on one sequence."""

    block_id: str
    mode: str
    layers: tuple[LayerTrace, ...]

    def get(self, layer: int, direction: int = 0) -> LayerTrace:
        """The trace of `layer` (0-based) in `direction` (0 forward, 1 reverse)."""
        for trace in self.layers:
            if trace.layer == layer and trace.direction == direction:
                return trace
        raise KeyError(f"{self.block_id} has no layer {layer} direction {direction}")


@dataclass(frozen=True)
class TimeGradient:
    """||dL/dh_t|| of a recurrent block's last layer for every step t.

    grad_norm (T,) is over both directions; by_direction (directions, T) splits it
    (row 0 forward, row 1 reverse). loss is the loss value the gradients belong to.
    """

    block_id: str
    grad_norm: np.ndarray
    by_direction: np.ndarray
    loss: float


@dataclass(frozen=True)
class ProbeInput:
    """The sample the probes look at (sent at the start of a run and whenever it changes)."""

    index: int  # into the validation set (the training set when there is none)
    split: str  # "val" or "train"
    x: object  # numpy (*input_shape), read-only
    y: object  # numpy label or targets, read-only


@dataclass(frozen=True)
class DecisionRegions:
    """A 2-input classifier over a grid of the input plane, and the validation points on it.

    xs (W,) and ys (H,) are the grid's coordinates in the data's units; predicted (H, W) int64
    is the class the model picks at (ys[i], xs[j]) and probability (H, W) float32 its softmax
    probability. points (N, 2) float32 are validation inputs with their true labels (N,) int64
    and the model's predictions (N,) int64 for them.
    """

    xs: np.ndarray
    ys: np.ndarray
    predicted: np.ndarray
    probability: np.ndarray
    points: np.ndarray
    labels: np.ndarray
    point_predicted: np.ndarray
    num_classes: int


@dataclass(frozen=True)
class SaliencyMap:
    """Where an image classifier looks, for the probe sample image (C, H, W).

    saliency (H, W): |d score / d input| of the predicted class, the largest over channels,
    scaled to 0..1. grad_cam (H, W): Grad-CAM on the last Conv2d (cam_layer), upsampled to the
    input's size and scaled to 0..1 (all zero when no evidence for the class is found there).
    predicted is the model's class, probability its softmax probability, label the true class
    (-1 when the sample has none).
    """

    image: np.ndarray
    saliency: np.ndarray
    grad_cam: np.ndarray
    cam_layer: str
    predicted: int
    probability: float
    label: int
