"""Model/dataset mismatches, reported as sentences that say what to change."""

from __future__ import annotations

from collections.abc import Sequence

from .dataset import Dataset


def format_shape(shape: Sequence[int]) -> str:
    return "×".join(str(int(d)) for d in shape)


def describe_input(dataset: Dataset) -> str:
    """'1×8×8 images', 'sequences of 40 steps × 1 feature', 'vectors of 2 values'."""
    shape = dataset.input_shape
    if dataset.input_kind == "image":
        return f"{format_shape(shape)} images"
    if dataset.input_kind == "sequence":
        steps, features = shape
        return f"sequences of {steps} steps × {features} feature{'s' * (features != 1)}"
    return f"vectors of {shape[0]} value{'s' * (shape[0] != 1)}"


def check_compatible(
    dataset: Dataset, input_shape: Sequence[int], num_outputs: int | None
) -> list[str]:
    """Messages, each with its fix, for every way the model does not fit ``dataset``.

    ``input_shape`` is the model's Input block shape without the batch axis; ``num_outputs``
    the units of the last Dense block (None when the model has none to check). An empty list
    means compatible.
    """
    problems: list[str] = []
    model_shape = tuple(int(d) for d in input_shape)
    name = dataset.name
    if model_shape != dataset.input_shape:
        want = format_shape(dataset.input_shape)
        problems.append(
            f"The model's input is {format_shape(model_shape) or 'empty'} but the dataset "
            f"'{name}' gives {describe_input(dataset)} — set the Input block to {want}."
        )
    if num_outputs is not None and int(num_outputs) != dataset.num_outputs:
        k = dataset.num_outputs
        if dataset.task == "classification":
            subject = f"'{name}' has {k} class{'es' * (k != 1)}"
        else:
            subject = f"'{name}' predicts {k} value{'s' * (k != 1)}"
        units = int(num_outputs)
        problems.append(
            f"The last Dense block has {units} unit{'s' * (units != 1)} but {subject} — "
            f"set its units to {k}."
        )
    return problems
