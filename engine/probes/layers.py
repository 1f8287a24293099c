"""Per-block probes: gradient norms, conv filters, feature maps, histograms, evaluation reports."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from engine.nn.modules import ResidualBlock
from engine.probes.common import ProbeError, as_input, eval_mode, freeze, frozen_array
from engine.probes.snapshots import (
    ClassificationReport,
    FeatureMap,
    FilterSet,
    ForecastReport,
    Histogram,
)

_POOLS = (
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveAvgPool2d,
    nn.LPPool2d,
    nn.FractionalMaxPool2d,
)
_ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
    nn.Softsign, nn.Tanhshrink, nn.LogSigmoid,
)  # fmt: skip


def _level(value: torch.Tensor) -> float:
    # A zero level would make the view divide by zero; an all-zero map shows grey either way.
    level = float(value.abs().max()) if value.numel() else 0.0
    return level or 1.0


def layer_gradient_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of all parameter gradients of each block (0.0 where none has a gradient yet).

    Call after backward and before the optimiser zeroes the gradients. The blocks inside a
    residual block are reported one by one under their own ids (ids are unique across the
    model), so the norm can be followed layer by layer through a residual network; the
    residual block's own entry is its skip projection, where it has one.
    """
    names, norms = [], []
    for name, block in _blocks(model):
        params = list(_own_parameters(block))
        if not params:
            continue
        grads = [p.grad.detach() for p in params if p.grad is not None]
        names.append(name)
        if grads:
            parts = torch.stack([torch.linalg.vector_norm(g, dtype=torch.float32) for g in grads])
            norms.append(torch.linalg.vector_norm(parts))
        else:
            norms.append(torch.zeros((), device=params[0].device))
    if not names:
        return {}
    # One host copy for all blocks: each .item() would be a device sync of its own.
    values = torch.stack([n.to(norms[0].device) for n in norms]).cpu().tolist()
    return dict(zip(names, values, strict=True))


def _own_parameters(block: nn.Module) -> Iterator[nn.Parameter]:
    if isinstance(block, ResidualBlock):  # its inner blocks report for themselves
        return iter(()) if block.skip is None else block.skip.parameters()
    return block.parameters()


def _blocks(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, block in model.named_children():
        yield name, block
        if isinstance(block, ResidualBlock):
            yield from _blocks(block.inner)


def conv_filters(model: nn.Module) -> tuple[FilterSet, ...]:
    """The filters of every Conv2d in the model, in module order."""
    with torch.no_grad():
        return tuple(
            FilterSet(name, frozen_array(module.weight), _level(module.weight))
            for name, module in model.named_modules()
            if isinstance(module, nn.Conv2d)
        )


def _kind(module: nn.Module) -> str | None:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, _POOLS):
        return "pool"
    if isinstance(module, _ACTIVATIONS):
        return "activation"
    return None


def _leaves(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, module in model.named_modules():
        if not any(True for _ in module.children()):
            yield name, module


def feature_maps(model: nn.Module, x_sample: torch.Tensor | np.ndarray) -> tuple[FeatureMap, ...]:
    """Outputs of every conv, pooling and activation layer on one image (1, C, H, W) or (C, H, W).

    Activations are kept where their output is an image stack (C, H, W), i.e. inside the CNN
    part of the model; in forward order. Runs in eval mode and restores the mode.
    """
    x = as_input(x_sample, model)
    x = x.unsqueeze(0) if x.dim() == 3 else x
    if x.dim() != 4 or x.shape[0] != 1:
        raise ProbeError(f"Feature maps need one image (1, C, H, W); got {tuple(x.shape)}.")
    found: list[tuple[str, nn.Module, str, torch.Tensor]] = []

    def hook_for(name: str, kind: str):
        def hook(module, _args, output):
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                # Copy now: an in-place activation after this layer would overwrite it.
                found.append((name, module, kind, output[0].detach().clone()))

        return hook

    handles = [
        module.register_forward_hook(hook_for(name, kind))
        for name, module in _leaves(model)
        if (kind := _kind(module)) is not None
    ]
    try:
        with torch.no_grad(), eval_mode(model):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return tuple(
        FeatureMap(name, type(module).__name__, kind, frozen_array(maps), _level(maps))
        for name, module, kind, maps in found
    )


def _histogram(block_id: str, value: torch.Tensor, bins: int) -> Histogram:
    flat = value.detach().reshape(-1).float()
    non_finite = 0
    lo, hi = (float(v) for v in torch.aminmax(flat)) if flat.numel() else (0.0, 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):  # NaN/inf are rare: only then pay for a mask
        finite = flat[torch.isfinite(flat)]
        non_finite = flat.numel() - finite.numel()
        flat = finite
        lo, hi = (float(v) for v in torch.aminmax(flat)) if flat.numel() else (0.0, 0.0)
    if lo == hi:  # one value (or none): centre a unit-wide range on it
        lo, hi = lo - 0.5, hi + 0.5
    # Binning by hand and bincount is ~3x faster than torch.histc on CPU; the clamp puts the
    # maximum (and any rounding past either end) into the outer bins as histc does.
    index = torch.sub(flat, lo).mul_(bins / (hi - lo)).to(torch.int32).clamp_(0, bins - 1)
    counts = torch.bincount(index, minlength=bins).cpu().numpy().astype(np.int64)
    edges = np.linspace(lo, hi, bins + 1, dtype=np.float32)
    return Histogram(block_id, freeze(counts), freeze(edges), int(non_finite))


def weight_histograms(model: nn.Module, bins: int = 40) -> tuple[Histogram, ...]:
    """Histogram of each block's weights (parameters named weight*; biases left out)."""
    out = []
    with torch.no_grad():
        for name, block in model.named_children():
            params = list(block.named_parameters())
            weights = [p for n, p in params if n.rsplit(".", 1)[-1].startswith("weight")]
            weights = weights or [p for _, p in params]
            if weights:
                flat = torch.cat([w.reshape(-1) for w in weights])
                out.append(_histogram(name, flat, bins))
    return tuple(out)


def activation_histograms(
    model: nn.Module, x_batch: torch.Tensor | np.ndarray, bins: int = 40
) -> tuple[Histogram, ...]:
    """Histogram of each block's output on `x_batch`, in eval mode (mode restored)."""
    out: list[Histogram] = []

    def hook_for(name: str):
        def hook(_module, _args, output):
            if isinstance(output, torch.Tensor) and output.is_floating_point():
                out.append(_histogram(name, output, bins))  # now, before any in-place op

        return hook

    handles = [block.register_forward_hook(hook_for(n)) for n, block in model.named_children()]
    try:
        with torch.no_grad(), eval_mode(model):
            model(as_input(x_batch, model))
    finally:
        for handle in handles:
            handle.remove()
    return tuple(out)


def _predict(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    if len(x) == 0:
        raise ProbeError("There are no validation samples to evaluate the model on.")
    with torch.no_grad(), eval_mode(model):
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def classification_report(
    model: nn.Module,
    x_val: torch.Tensor | np.ndarray,
    y_val: torch.Tensor | np.ndarray,
    num_classes: int,
    max_samples: int = 1000,
    batch_size: int = 256,
) -> ClassificationReport:
    """Confusion matrix and per-sample predictions on the first `max_samples` validation samples.

    The model must output (N, num_classes) scores; y_val holds class indices (or one-hot rows).
    """
    x = as_input(x_val, model)[:max_samples]
    y = torch.as_tensor(y_val)[:max_samples]
    if y.dim() == 2:
        y = y.argmax(dim=1)
    y = y.to("cpu", torch.int64)
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ProbeError(
            f"Labels run from {int(y.min())} to {int(y.max())}, outside 0..{num_classes - 1}; "
            "check the dataset's number of classes."
        )
    scores = _predict(model, x, batch_size)
    if scores.shape != (len(x), num_classes):
        raise ProbeError(
            f"A classifier for {num_classes} classes must output (N, {num_classes}); this model "
            f"outputs {tuple(scores.shape[1:])} per sample. Make the last block Dense({num_classes})."
        )
    confidence, predicted = torch.softmax(scores.float(), dim=1).max(dim=1)
    predicted = predicted.cpu().numpy()
    truth = y.numpy()
    cells = np.bincount(truth * num_classes + predicted, minlength=num_classes * num_classes)
    correct = predicted == truth
    return ClassificationReport(
        confusion=freeze(cells.reshape(num_classes, num_classes).astype(np.int64)),
        predictions=freeze(predicted.astype(np.int64)),
        correct=freeze(correct),
        confidence=frozen_array(confidence),
        accuracy=float(correct.mean()) if len(correct) else 0.0,
    )


def forecast_report(
    model: nn.Module,
    x_val: torch.Tensor | np.ndarray,
    y_val: torch.Tensor | np.ndarray,
    max_samples: int = 1000,
    batch_size: int = 256,
) -> ForecastReport:
    """Predicted against true values on the first `max_samples` validation samples."""
    x = as_input(x_val, model)[:max_samples]
    target = frozen_array(torch.as_tensor(y_val)[:max_samples])
    predicted = _predict(model, x, batch_size).detach().to("cpu", torch.float32).numpy()
    if predicted.size != target.size:
        raise ProbeError(
            f"The model predicts {predicted.shape[1:]} values per sample but the targets hold "
            f"{target.shape[1:]}; make the last block's size match the forecast horizon."
        )
    predicted = frozen_array(predicted.reshape(target.shape))
    error = predicted.astype(np.float64) - target
    return ForecastReport(
        predicted=predicted,
        target=target,
        mse=float(np.mean(error**2)) if error.size else 0.0,
        mae=float(np.mean(np.abs(error))) if error.size else 0.0,
    )
