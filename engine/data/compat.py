"""Model/dataset mismatches, reported as sentences that say what to change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.model.inference import infer
from engine.model.spec import ModelSpec

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


@dataclass(frozen=True)
class DataFit:
    """How a model stands against a dataset: the sentences that say what does not fit, and a
    repair (the whole model after the edits) only when that repaired model is valid."""

    messages: tuple[str, ...]
    fix_label: str | None = None
    fixed_spec: ModelSpec | None = None

    @property
    def fits(self) -> bool:
        return not self.messages


def fit_to_dataset(spec: ModelSpec, dataset: Dataset) -> DataFit:
    """Check ``spec`` against ``dataset`` and find one repair that makes it fit and stay valid.

    The output is checked only on a valid model whose output is a vector: an empty or broken
    model has no output to speak of (its own problem comes first). The repair sets the Input to
    the dataset's shape and the last block with ``units`` to the dataset's outputs, together;
    it is offered only if the model after both edits is valid and fits, so a Fix never turns a
    CNN into a model whose Conv2d gets a vector.
    """
    inference = infer(spec)
    if not spec.blocks:
        return DataFit(())
    out = inference.output_shape if inference.valid else None
    num_outputs = out[0] if out is not None and len(out) == 1 else None
    messages = tuple(check_compatible(dataset, spec.input.shape, num_outputs))
    if not messages:
        return DataFit(())
    fixed, edits = spec, []
    if (spec.input.kind, tuple(spec.input.shape)) != (dataset.input_kind, dataset.input_shape):
        fixed = fixed.with_input(dataset.input_kind, dataset.input_shape)
        edits.append(f"set the Input to {format_shape(dataset.input_shape)}")
    units_at = _last_with_units(spec)
    if units_at is not None and spec.blocks[units_at].params["units"] != dataset.num_outputs:
        fixed = fixed.with_params(units_at, {"units": dataset.num_outputs})
        edits.append(f"{spec.blocks[units_at].id}'s units to {dataset.num_outputs}")
    after = infer(fixed)
    fixed_out = after.output_shape if after.valid else None
    if (
        not edits
        or fixed_out is None
        or check_compatible(dataset, fixed.input.shape, fixed_out[-1])
    ):
        return DataFit(messages + (_no_fix(dataset),))
    label = " and ".join(edits)
    return DataFit(messages, label[0].upper() + label[1:], fixed)


def _last_with_units(spec: ModelSpec) -> int | None:
    """The block whose units decide the model's outputs: the last one that has units."""
    for index in range(len(spec.blocks) - 1, -1, -1):
        if "units" in spec.blocks[index].params:
            return index
    return None


def _no_fix(dataset: Dataset) -> str:
    return (
        f"No one-click fix makes this model fit: its blocks do not take "
        f"{describe_input(dataset)} — choose another dataset, or open an example built for it."
    )
