"""The core blocks: normalisation, dropout, flatten, dense layers and activations."""

from __future__ import annotations

import math
from typing import Any

from engine.model.catalogue.registry import CATALOGUE, BlockType
from engine.model.params import Param
from engine.model.shapes import Fix, Shape, ShapeError, describe, shape_kind


def _same(params: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    return shape, 0


def _bn_infer(p: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    if shape_kind(shape) == "sequence":
        raise ShapeError(
            f"BatchNorm works on images or vectors but gets {describe(shape)} — move it after a "
            "block that returns a vector (for example a recurrent block that returns its last step)."
        )
    return shape, 2 * shape[0]


def _bn_build(p: dict[str, Any], shape: Shape):
    from torch import nn

    cls = nn.BatchNorm2d if shape_kind(shape) == "image" else nn.BatchNorm1d
    return cls(shape[0], momentum=p["momentum"])


def _bn_code(m) -> str:
    return f"nn.{type(m).__name__}({m.num_features}, eps={m.eps!r}, momentum={m.momentum!r})"


CATALOGUE.register(
    BlockType(
        "batchnorm",
        "BatchNorm",
        "Core",
        "Batch normalisation: rescales each channel (or feature) to zero mean and unit variance over "
        "the batch, then applies a learned scale and shift. Keeps activations in a healthy range so "
        "deeper networks train faster and tolerate larger learning rates. Put it after a Conv2d or "
        "Dense, before the activation.",
        (
            Param(
                "momentum",
                "float",
                0.1,
                "Momentum",
                "How fast the running statistics follow the batches.",
                0.001,
                1.0,
            ),
        ),
        _bn_infer,
        _bn_build,
        code=_bn_code,
    )
)


def _dropout_build(p: dict[str, Any], shape: Shape):
    from torch import nn

    return nn.Dropout(p["p"])


def _dropout_code(m) -> str:
    return f"nn.Dropout(p={m.p!r})"


CATALOGUE.register(
    BlockType(
        "dropout",
        "Dropout",
        "Core",
        "Dropout: while training, zeroes a random fraction p of the values (and scales the rest up), "
        "so the network cannot rely on any single unit; at evaluation it does nothing. A simple "
        "guard against overfitting, usually before a Dense layer.",
        (
            Param(
                "p",
                "float",
                0.5,
                "Drop probability",
                "Fraction of values zeroed while training.",
                0.0,
                0.95,
            ),
        ),
        _same,
        _dropout_build,
        code=_dropout_code,
    )
)


def _flatten_build(p: dict[str, Any], shape: Shape):
    from torch import nn

    return nn.Flatten()


def _flatten_code(m) -> str:
    if (m.start_dim, m.end_dim) == (1, -1):
        return "nn.Flatten()"
    return f"nn.Flatten(start_dim={m.start_dim}, end_dim={m.end_dim})"


CATALOGUE.register(
    BlockType(
        "flatten",
        "Flatten",
        "Core",
        "Flatten: lays an image's feature maps (or a sequence) out as one long vector, so that a "
        "fully-connected (Dense) layer can read every value. The bridge between the convolutional "
        "part of a CNN and its classifier.",
        (),
        lambda p, s: ((math.prod(s),), 0),
        _flatten_build,
        code=_flatten_code,
    )
)


def _dense_infer(p: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    units = p["units"]
    if shape_kind(shape) == "image":
        raise ShapeError(
            f"Dense needs a flat vector but gets {describe(shape)} — insert Flatten before it.",
            Fix("Insert Flatten before it", insert_type="flatten"),
        )
    n_params = shape[-1] * units + (units if p["bias"] else 0)
    return (*shape[:-1], units), n_params


def _dense_build(p: dict[str, Any], shape: Shape):
    from torch import nn

    return nn.Linear(shape[-1], p["units"], bias=p["bias"])


def _dense_code(m) -> str:
    return f"nn.Linear({m.in_features}, {m.out_features}{', bias=False' if m.bias is None else ''})"


def _dense_summary(p: dict[str, Any]) -> str:
    units = "1 unit" if p["units"] == 1 else f"{p['units']} units"
    return units + ("" if p["bias"] else " · no bias")


CATALOGUE.register(
    BlockType(
        "dense",
        "Dense",
        "Core",
        "Fully-connected (Dense) layer: every output is a weighted sum of every input plus a bias. "
        "At the end of a CNN it turns the detected features into class scores; the last Dense "
        "layer needs one unit per class (or per value to predict). On a sequence it is applied to "
        "each time step separately. A stack of Dense layers alone is a feed-forward network (MLP): "
        "it sees each input on its own and has no memory of earlier inputs.",
        (
            Param("units", "int", 64, "Units", "Number of outputs.", 1, 65536),
            Param("bias", "bool", True, "Bias", "Add a learned bias to each output."),
        ),
        _dense_infer,
        _dense_build,
        code=_dense_code,
        summary=_dense_summary,
    )
)


def _activation(
    block_id: str, title: str, torch_name: str, help_text: str, params=(), code_args=()
):
    """An element-wise torch.nn activation; ``code_args``: the module attributes that the
    Python export writes out (beside the block's own parameters, torch's defaults)."""

    def build(p: dict[str, Any], shape: Shape):
        from torch import nn

        return getattr(nn, torch_name)(**p)

    def code(m) -> str:
        return f"nn.{torch_name}({', '.join(f'{a}={getattr(m, a)!r}' for a in code_args)})"

    CATALOGUE.register(
        BlockType(block_id, title, "Core", help_text, params, _same, build, code=code)
    )


_activation(
    "relu",
    "ReLU",
    "ReLU",
    "ReLU: max(0, x). Lets positive values through and zeroes the rest. The default "
    "non-linearity: cheap, and its gradient does not shrink for positive inputs.",
)
_activation(
    "leaky_relu",
    "LeakyReLU",
    "LeakyReLU",
    "Leaky ReLU: like ReLU but lets a small slope through for negative inputs, so a "
    "unit that went negative can still learn.",
    (Param("negative_slope", "float", 0.01, "Negative slope", "Slope for x < 0.", 0.0, 1.0),),
    code_args=("negative_slope",),
)
_activation(
    "tanh",
    "Tanh",
    "Tanh",
    "Tanh: squashes values into (-1, 1). Zero-centred; saturates for large inputs, "
    "where its gradient vanishes.",
)
_activation(
    "sigmoid",
    "Sigmoid",
    "Sigmoid",
    "Sigmoid: squashes values into (0, 1), like a probability or a gate. Saturates at "
    "both ends, where its gradient vanishes.",
)
_activation(
    "gelu",
    "GELU",
    "GELU",
    "GELU: a smooth ReLU that weights each input by how likely it is to be positive. "
    "Common in transformers.",
    code_args=("approximate",),
)
