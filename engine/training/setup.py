"""What a run trains with, made once before its first step: the checked settings, the device,
the dataset and its tensors, the model, the loss and the optimiser.

Everything that can be wrong with a run's inputs (a model that does not fit the data, a loss
for the wrong task, a missing device) is found here, before any training, and raised as an
error whose message is a sentence for the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.data import Dataset, DatasetError, DataSource, check_compatible
from engine.data.resources import require_memory
from engine.model.inference import infer, training_memory
from engine.model.spec import ModelSpec, SpecError
from engine.nn.build import build_model
from engine.training.devices import resolve_device
from engine.training.optim import make_optimizer
from engine.training.settings import SettingsError, TrainSettings

# Whole datasets up to this size are copied to the GPU once; larger ones go batch by batch.
_DEVICE_RESIDENT_BYTES = 1 << 30


@dataclass(frozen=True)
class RunSetup:
    settings: TrainSettings  # checked
    device: torch.device
    data: Dataset
    model: torch.nn.Module
    x_train: torch.Tensor  # on the device when the dataset fits there, else on the CPU
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    optimizer: torch.optim.Optimizer
    y_scale: torch.Tensor | None  # the targets' standard deviation, to report MAE in data units
    shuffle_rng: torch.Generator

    @property
    def classify(self) -> bool:
        return self.data.task == "classification"

    def weights(self) -> dict[str, np.ndarray]:
        """CPU numpy copies of the model's state, by state_dict name."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}


def prepare_run(
    spec: ModelSpec,
    dataset: Dataset | str,
    settings: TrainSettings,
    dataset_options: dict[str, Any],
) -> RunSetup:
    """Check the settings, load the data, check that ``spec`` fits it, then build what the run
    needs. Raises SpecError, DatasetError, SettingsError or DeviceError with a sentence."""
    s = settings.checked()
    if s.torch_threads is not None:
        torch.set_num_threads(s.torch_threads)  # per thread for OpenMP: set in the run's thread
    device = resolve_device(s.device)
    data = load_run_dataset(spec, dataset, dataset_options)
    check_fit(spec, data)
    if device.type == "cpu":  # a GPU's memory is its own; torch says when it runs out
        require_memory(
            training_memory(infer(spec), s.batch_size, s.val_batch_size),
            None,
            f"Training '{spec.name or 'the model'}' with batch size {s.batch_size}",
            "Lower the batch size, or make the model smaller (fewer filters, units or blocks).",
        )
    loss_fn = loss_function(s.loss, data)
    model = build_model(spec, seed=s.seed).to(device)
    if device.type == "cpu" and any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        # oneDNN's channels-last convolutions train CNNs 18-46 % faster on this project's
        # CPU (bench/channels_last). Only the conv weights' strides change: the weights,
        # probes and exports are C-contiguous copies all the same.
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(
        s.optimizer,
        model.parameters(),
        lr=s.lr,
        momentum=s.momentum,
        nesterov=s.nesterov,
        weight_decay=s.weight_decay,
    )
    y_scale = (
        None
        if data.y_std is None
        else torch.as_tensor(data.y_std, dtype=torch.float32, device=device)
    )
    return RunSetup(
        s,
        device,
        data,
        model,
        *_tensors(data.x_train, data.y_train, device),
        *_tensors(data.x_val, data.y_val, device),
        loss_fn,
        optimizer,
        y_scale,
        torch.Generator().manual_seed(s.seed),
    )


def load_run_dataset(
    spec: ModelSpec, dataset: Dataset | DataSource | str, dataset_options: dict[str, Any]
) -> Dataset:
    """``dataset`` itself, or the source it names loaded (engine/data/session.py decides
    which options apply and where a relative path is read from)."""
    if isinstance(dataset, Dataset):
        return dataset
    return DataSource.of(dataset, spec, dataset_options).load()


def check_fit(spec: ModelSpec, ds: Dataset) -> None:
    """SpecError unless ``spec`` is valid and maps ``ds``'s inputs to its targets;
    DatasetError for NaN or infinite values in the data."""
    inference = infer(spec)
    if not inference.valid:
        raise SpecError(f"The model cannot be trained: {inference.problem}")
    out = inference.output_shape or ()
    problems = check_compatible(ds, spec.input.shape, out[0] if len(out) == 1 else None)
    if len(out) != 1:
        what = "one score per class" if ds.task == "classification" else f"{ds.num_outputs} values"
        problems.append(
            f"The model outputs {'×'.join(map(str, out))} values per sample but "
            f"'{ds.name}' needs {what} — end the model with Flatten and "
            f"Dense({ds.num_outputs})."
        )
    if problems:
        raise SpecError(" ".join(problems))
    for part in ("x_train", "y_train", "x_val", "y_val"):
        array = getattr(ds, part)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise DatasetError(
                f"The dataset '{ds.name}' has NaN or infinite values in {part}; "
                "clean or drop those rows before training."
            )


def loss_function(name: str, ds: Dataset) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss called ``name`` ("auto": cross-entropy for classes, else MSE) for ``ds``."""
    classify = ds.task == "classification"
    if name == "auto":
        name = "cross_entropy" if classify else "mse"
    if name == "cross_entropy":
        if not classify:
            raise SettingsError(
                f"Cross-entropy needs class labels but '{ds.name}' is a {ds.task} "
                "dataset; choose the MSE loss (or 'auto')."
            )
        return F.cross_entropy
    if classify:
        classes = ds.num_outputs
        return lambda out, y: F.mse_loss(out, F.one_hot(y, classes).to(out.dtype))
    return lambda out, y: F.mse_loss(out.reshape(y.shape), y)


def _tensors(
    x: np.ndarray, y: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    if device.type != "cpu" and x.nbytes + y.nbytes <= _DEVICE_RESIDENT_BYTES:
        return xt.to(device), yt.to(device)
    return xt, yt  # batches are moved one at a time by the loop
