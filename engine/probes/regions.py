"""Decision regions: what a classifier with two inputs predicts over the whole input plane."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.probes.common import ProbeError, as_input, eval_mode, freeze, frozen_array
from engine.probes.snapshots import DecisionRegions

GRID = 100  # cells per side: 10,000 points, one forward pass of a small MLP (~1 ms)
MARGIN = 0.1  # of the data's span on each side, so the regions show beyond the points
MAX_POINTS = 500  # validation points drawn over the regions; more would hide them


def _class_indices(y: torch.Tensor | np.ndarray) -> np.ndarray:
    y = torch.as_tensor(y)
    if y.dim() == 2:  # one-hot rows
        y = y.argmax(dim=1)
    return y.to("cpu", torch.int64).numpy()


def plane_grid(x: torch.Tensor, size: int = GRID) -> tuple[torch.Tensor, torch.Tensor]:
    """(xs, ys): ``size`` evenly spaced coordinates per axis over the range of the points
    ``x`` (N, 2) plus MARGIN of its span on each side (one unit where all points agree)."""
    lo, hi = x.min(dim=0).values.double(), x.max(dim=0).values.double()
    span = hi - lo
    span = torch.where(span > 0, span, torch.ones_like(span))
    lo, hi = lo - MARGIN * span, hi + MARGIN * span
    xs = torch.linspace(float(lo[0]), float(hi[0]), size, dtype=torch.float64)
    ys = torch.linspace(float(lo[1]), float(hi[1]), size, dtype=torch.float64)
    return xs, ys


def decision_regions(
    model: nn.Module,
    x_val: torch.Tensor | np.ndarray,
    y_val: torch.Tensor | np.ndarray,
    num_classes: int,
    size: int = GRID,
) -> DecisionRegions:
    """The class the model predicts, and its probability, at every cell of a size × size grid
    over the plane of the validation points (x_val (N, 2)), from one batched forward pass in
    eval mode without gradients (the mode is restored); with up to MAX_POINTS of the points."""
    x = as_input(x_val, model)
    if x.dim() != 2 or x.shape[1] != 2:
        raise ProbeError(
            f"Decision regions need a classifier with 2 inputs; this model's samples are "
            f"{tuple(x.shape[1:])}."
        )
    if len(x) == 0:
        raise ProbeError("There are no validation points to draw the decision regions around.")
    xs, ys = plane_grid(x.detach(), size)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # row i is ys[i], column j is xs[j]
    cells = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1).to(x.device, x.dtype)
    points = x[:MAX_POINTS]
    with torch.no_grad(), eval_mode(model):
        scores = model(torch.cat([cells, points]))  # one pass for the grid and the points
    if scores.dim() != 2 or scores.shape[1] != num_classes:
        raise ProbeError(
            f"Decision regions need a classifier with {num_classes} outputs (one score per "
            f"class); this model outputs {tuple(scores.shape[1:])}. Make the last block "
            f"Dense({num_classes})."
        )
    probability, predicted = torch.softmax(scores.float(), dim=1).max(dim=1)
    n = len(cells)
    return DecisionRegions(
        xs=frozen_array(xs),
        ys=frozen_array(ys),
        predicted=frozen_array(predicted[:n].reshape(size, size), np.int64),
        probability=frozen_array(probability[:n].reshape(size, size)),
        points=frozen_array(points),
        labels=freeze(_class_indices(y_val)[:MAX_POINTS].copy()),
        point_predicted=frozen_array(predicted[n:], np.int64),
        num_classes=int(num_classes),
    )
