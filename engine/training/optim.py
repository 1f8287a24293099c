"""Optimisers, the learning-rate schedule and live setting changes applied to an optimiser.

The schedule is a plain factor per epoch rather than a torch lr_scheduler: a person may change
the learning rate in the middle of a run, and a factor makes "the schedule continues from the
new value" one division instead of a fight with the scheduler's internal state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
import torch.optim.optimizer as torch_optimizer

from engine.training.settings import OPTIMIZERS, SettingsError


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    *,
    lr: float,
    momentum: float,
    nesterov: bool,
    weight_decay: float,
) -> torch.optim.Optimizer:
    """The torch optimiser called ``name`` (sgd, adam, adamw or rmsprop), with the fastest
    kernel torch has for the parameters' device (:func:`kernel_options`)."""
    params = list(params)
    kernels = kernel_options(name, params)
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=momentum,
            nesterov=nesterov and momentum > 0,
            weight_decay=weight_decay,
            **kernels,
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **kernels)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **kernels)
    if name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kernels
        )
    raise SettingsError(f"Unknown optimiser '{name}'. Choose one of: {', '.join(OPTIMIZERS)}.")


# Devices whose fused SGD, Adam and AdamW kernels this project has run (torch has more).
FUSED_DEVICES = ("cpu", "cuda")


def kernel_options(name: str, params: list[torch.nn.Parameter]) -> dict[str, bool]:
    """``fused=True`` where torch has a fused kernel for ``name`` on the parameters' device,
    else ``foreach=True``; {} for no parameters or mixed devices.

    torch's default on the CPU is a Python loop over the tensors: for a small model that loop
    is a large part of a step. The fused kernel does Adam's update in one call; on this
    project's CPU it takes a third of the time for the moons MLP (~55 µs against ~180), which
    then trains ~1.4-1.5× as fast (``python -m bench.fused_optimizer``). The update is the same
    sum, in another order of floating-point operations."""
    devices = {p.device.type for p in params}
    if len(devices) != 1 or not all(p.is_floating_point() for p in params):
        return {}
    if name in ("sgd", "adam", "adamw") and devices <= set(FUSED_DEVICES):
        return {"fused": True}
    return {"foreach": True}


def bare_step(optimizer: torch.optim.Optimizer) -> Callable[[], Any]:
    """``optimizer.step``, past the wrapper torch puts around every optimiser's step (a
    profiler range and the step hooks): ~3 µs a step that a run with no hook registered does
    not need. While any step hook is registered, and where this torch has no such wrapper,
    it is ``optimizer.step`` itself."""
    step = type(optimizer).step
    inner = getattr(step, "__wrapped__", None)
    if inner is None or not getattr(step, "hooked", False):
        return optimizer.step
    hooks = (
        optimizer._optimizer_step_pre_hooks,
        optimizer._optimizer_step_post_hooks,
        torch_optimizer._global_optimizer_pre_hooks,
        torch_optimizer._global_optimizer_post_hooks,
    )

    def bare() -> Any:
        if any(hooks):
            return optimizer.step()
        return inner(optimizer)

    return bare


def grad_clearer(optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """``optimizer.zero_grad(set_to_none=True)`` as a loop over the parameters. torch's own
    walks the groups inside a profiler range and a dynamo guard: ~12 µs a step for the moons
    MLP against ~1 (of a ~420 µs step)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def clear() -> None:
        for p in params:
            p.grad = None

    return clear


def lr_factor(schedule: str, epoch: int, epochs: int, step_epochs: int, gamma: float) -> float:
    """Multiplier of the base learning rate for 0-based ``epoch``."""
    if schedule == "step":
        return gamma ** (epoch // max(1, step_epochs))
    if schedule == "cosine":
        # Ends at a small floor rather than 0, so the last epoch still learns something.
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, epochs)))
    return 1.0


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def apply_live_changes(
    optimizer: torch.optim.Optimizer, name: str, changes: Mapping[str, Any]
) -> None:
    """Write checked momentum / weight decay changes into the optimiser's param groups.

    The optimiser object (and so its state: Adam's moments, SGD's momentum buffers) is kept.
    The learning rate and gradient clipping are applied by the Trainer, which owns the schedule.
    """
    for group in optimizer.param_groups:
        if "weight_decay" in changes:
            group["weight_decay"] = changes["weight_decay"]
        if "momentum" in changes:
            if name in ("adam", "adamw"):
                group["betas"] = (changes["momentum"], group["betas"][1])
            else:
                group["momentum"] = changes["momentum"]
