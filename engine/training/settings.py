"""Training settings and their defaults: plain values, no torch.

The one source of every default a run starts from (optimiser, learning rate, batch size,
epochs, torch threads): the training panel, the command line and the Trainer read them here.
The window imports this module before torch has loaded.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from types import MappingProxyType
from typing import Any

from engine.probes.registry import DEFAULT_BUDGET, PROBE_KINDS

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LR_SCHEDULES = ("none", "step", "cosine")
LOSSES = ("auto", "cross_entropy", "mse")
# The learning rate each optimiser starts at, in the window and on the command line alike:
# with batch 32 the digits CNN passes 95 % within 10 epochs at Adam's 3e-3; plain SGD needs a
# larger step.
DEFAULT_LR = MappingProxyType({"sgd": 0.01, "adam": 3e-3, "adamw": 3e-3, "rmsprop": 3e-3})
# The learning rate a NaN message suggests when the current one is far above it.
TYPICAL_LR = MappingProxyType({"sgd": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001})
OPTIMIZER_TITLES = MappingProxyType(
    {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}
)
# Torch threads of a run started from the window: on the 2-core machines we measured, one
# thread beside the GUI trains as fast as a plain 1-thread script while two contend with the
# GUI for a core (README, "Torch threads"). The command line has no GUI beside it, so it leaves
# torch's own choice (one thread per core): None.
GUI_TORCH_THREADS = 1
CLI_TORCH_THREADS = None
# Settings that can change during a run, by optimiser (momentum maps onto Adam's beta1).
LIVE_SETTINGS = ("lr", "momentum", "weight_decay", "grad_clip")


class SettingsError(ValueError):
    """Training settings that cannot be used; the message names the setting and the fix."""


def check_live_changes(optimizer_name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate settings changed during a run; returns them as clean floats (None for no clip)."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in LIVE_SETTINGS:
            raise SettingsError(
                f"'{key}' cannot change during a run; these can: {', '.join(LIVE_SETTINGS)}."
            )
        if key == "grad_clip" and value is None:
            clean[key] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{key} must be a number, not {value!r}.") from None
        if not math.isfinite(number) or number < 0 or (key in ("lr", "grad_clip") and number == 0):
            raise SettingsError(f"{key} must be a positive number, not {value!r}.")
        if key == "momentum" and number >= 1:
            raise SettingsError(f"momentum must be below 1, not {value!r}.")
        clean[key] = number
    return clean


def sample_index_problem(index: object, count: int | None, split: str = "validation") -> str | None:
    """Why ``index`` cannot be the probe sample among ``count`` samples of ``split`` (None:
    not known yet, so only whole numbers from 0 pass), or None when it can."""
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        return f"The probe sample index must be a whole number, not {index!r}."
    if count is None:
        return None if index >= 0 else f"The probe sample index must be 0 or more, not {index}."
    if not 0 <= index < max(count, 1):
        return (
            f"The probe sample index {index} is outside the {count} samples of the "
            f"{split} set; choose 0 to {count - 1}."
        )
    return None


@dataclass(frozen=True)
class TrainSettings:
    """Everything a run needs besides the model and the data; plain values, JSON-friendly."""

    optimizer: str = "adam"  # sgd | adam | adamw | rmsprop
    lr: float = DEFAULT_LR["adam"]
    momentum: float = 0.9  # SGD and RMSprop; Adam's beta1 when changed during a run
    nesterov: bool = False
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int | None = 10  # None: until stopped (the Stop button, Ctrl+C)
    grad_clip: float | None = None  # max total gradient norm, None for no clipping
    lr_schedule: str = "none"  # none | step | cosine (per epoch)
    lr_step_epochs: int = 10  # "step": multiply by lr_gamma every this many epochs
    lr_gamma: float = 0.1
    loss: str = "auto"  # auto (from the task) | cross_entropy | mse
    device: str = "auto"  # auto | cpu | cuda:N | mps
    seed: int = 0
    torch_threads: int | None = None  # None: leave torch's setting alone
    shuffle: bool = True
    val_batch_size: int = 512
    probes: bool = True
    probe_kinds: tuple[str, ...] | None = None  # None: every probe that applies to the model
    probe_sample_index: int = 0  # the validation sample the probes look at
    probe_intervals: dict[str, float] = field(default_factory=dict, hash=False)  # seconds, by kind
    probe_budget: float = DEFAULT_BUDGET  # max share of wall time the probes may take
    # Runs on disk (engine/runs): a window run records into a new folder under runs_folder
    # (None: "runs" in the user's data directory); a checkpoint every this many epochs.
    record: bool = True
    runs_folder: str | None = None
    checkpoint_every: int = 1

    def checked(self) -> TrainSettings:
        """Self, or a SettingsError naming the first setting that cannot be used."""
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _choice("loss", self.loss, LOSSES)
        for name in ("lr", "lr_gamma"):
            _positive(name, getattr(self, name))
        names = ("epochs",) if self.epochs is not None else ()
        for name in (
            "batch_size",
            *names,
            "val_batch_size",
            "lr_step_epochs",
            "checkpoint_every",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SettingsError(f"{name} must be a whole number of at least 1, not {value!r}.")
        if self.epochs is None and self.lr_schedule == "cosine":
            raise SettingsError(
                "The cosine learning-rate schedule falls to its end over the run's epochs, so it "
                "needs a number of epochs: set one, or choose the step schedule or none."
            )
        check_live_changes(
            self.optimizer,
            {
                "momentum": self.momentum,
                "weight_decay": self.weight_decay,
                "grad_clip": self.grad_clip,
            },
        )
        if self.torch_threads is not None and (
            not isinstance(self.torch_threads, int) or self.torch_threads < 1
        ):
            raise SettingsError(
                f"torch_threads must be 1 or more (or None), not {self.torch_threads!r}."
            )
        unknown = set(self.probe_kinds or ()) | set(self.probe_intervals)
        unknown -= set(PROBE_KINDS)
        if unknown:
            raise SettingsError(
                f"Unknown probe '{sorted(unknown)[0]}'; probes: {', '.join(PROBE_KINDS)}."
            )
        if not 0 < self.probe_budget <= 1:
            raise SettingsError(
                f"probe_budget is a share of the time, between 0 and 1, not {self.probe_budget!r}."
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["probe_kinds"] = list(self.probe_kinds) if self.probe_kinds is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        """Settings from a dict (a project file); unknown keys are a SettingsError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"Unknown training setting '{unknown[0]}'.")
        values = dict(data)
        if values.get("probe_kinds") is not None:
            values["probe_kinds"] = tuple(values["probe_kinds"])
        return cls(**values).checked()


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")


def _positive(name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SettingsError(f"{name} must be a positive number, not {value!r}.")
