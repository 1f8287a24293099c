"""The residual block: a container whose inner stack's output is added to its own input.

output = inner(x) + skip(x). The skip is the identity where the inner stack keeps the shape;
where it changes it, shape inference picks a projection: a 1×1 Conv2d for images (with the
stride that shrinks the input to the inner output's height and width), a Linear layer for
vectors and for sequences of the same length. The identity path is what carries the gradient
back through a deep stack unchanged (README: Deep networks).
"""

from __future__ import annotations

from typing import Any

from engine.model.catalogue.registry import CATALOGUE, BlockType, ContainerRule
from engine.model.shapes import Shape, ShapeError, describe, format_shape, shape_kind


def _stride_between(size: int, out: int) -> int | None:
    """The stride of a 1×1 convolution (no padding) that turns ``size`` into ``out``."""
    for stride in range(1, size + 1):
        if (size - 1) // stride + 1 == out:
            return stride
    return None


def _join(shape: Shape, inner: Shape) -> tuple[Shape, int, str]:
    if inner == shape:
        return shape, 0, "identity"
    kind, inner_kind = shape_kind(shape), shape_kind(inner)
    if kind != inner_kind:
        raise ShapeError(
            f"The blocks inside turn {describe(shape)} into {describe(inner)}, which cannot be "
            f"added to its input — keep the {kind} a {kind} inside the residual block, or move "
            "the block that changes it (a Flatten, a recurrent block's last step) after it."
        )
    if kind == "image":
        strides = [_stride_between(s, o) for s, o in zip(shape[1:], inner[1:], strict=True)]
        if None in strides or strides[0] != strides[1]:
            raise ShapeError(
                f"The blocks inside turn {describe(shape)} into {describe(inner)}; no 1×1 "
                "convolution with one stride maps the input to that size — shrink height and "
                "width by the same factor inside it (pad convolutions, pool by 2)."
            )
        stride = strides[0]
        how = f"1×1 Conv2d {shape[0]}→{inner[0]}" + (f", stride {stride}" if stride > 1 else "")
        return inner, shape[0] * inner[0] + inner[0], how
    if kind == "sequence" and shape[0] != inner[0]:
        raise ShapeError(
            f"The blocks inside turn {describe(shape)} into {describe(inner)}; the number of "
            "steps must stay the same for the input to be added — return the whole sequence."
        )
    return inner, shape[-1] * inner[-1] + inner[-1], f"Linear {shape[-1]}→{inner[-1]}"


def _build(inner, shape: Shape, inner_shape: Shape):
    from torch import nn

    from engine.nn.modules import ResidualBlock

    skip = None
    if inner_shape != shape:
        if shape_kind(shape) == "image":
            stride = _stride_between(shape[1], inner_shape[1])
            skip = nn.Conv2d(shape[0], inner_shape[0], kernel_size=1, stride=stride)
        else:
            skip = nn.Linear(shape[-1], inner_shape[-1])
    return ResidualBlock(inner, skip)


def _forward_code(block_id: str, inner_lines: list[str], skip, shape: str) -> list[str]:
    # Spelled out in the generated forward(): the skip is taken before the inner blocks run.
    name = f"skip_{block_id.replace('.', '_')}"
    taken = f"self.{block_id}.skip(x)" if skip is not None else "x"
    return [
        f"{name} = {taken}  # the residual block {block_id.rsplit('.', 1)[-1]}'s skip path",
        *inner_lines,
        f"x = x + {name}  {shape}".rstrip(),
    ]


def _summary(params: dict[str, Any]) -> str:
    return "y = F(x) + x"


def skip_code(module) -> str:
    """The constructor of a residual block's skip projection, for the Python export."""
    if type(module).__name__ == "Conv2d":
        stride = module.stride[0]
        return f"nn.Conv2d({module.in_channels}, {module.out_channels}, kernel_size=1" + (
            f", stride={stride})" if stride > 1 else ")"
        )
    return f"nn.Linear({module.in_features}, {module.out_features})"


def _not_plain(params: dict[str, Any], shape: Shape):
    # Inference and build treat containers through ContainerRule; a direct call is a bug.
    raise ShapeError(f"a residual block on {format_shape(shape)} needs its inner blocks")


CATALOGUE.register(
    BlockType(
        "residual",
        "Residual",
        "Core",
        "Residual block: adds its input to the output of the blocks inside it (y = F(x) + x). "
        "The identity path carries the gradient straight back through the block, so a deep "
        "stack of residual blocks keeps learning where the same stack without them sees its "
        "gradient vanish. Where the blocks inside change the shape, a 1×1 convolution (images) "
        "or a linear layer (vectors) projects the input to match.",
        (),
        _not_plain,
        _not_plain,
        summary=_summary,
        container=ContainerRule(_join, _build, _forward_code),
    )
)
