"""The CNN blocks: convolution and pooling over images."""

from __future__ import annotations

from typing import Any

from engine.model.catalogue.registry import CATALOGUE, BlockType
from engine.model.params import Param
from engine.model.shapes import Fix, Shape, ShapeError, describe, shape_kind


def _need_image(title: str, shape: Shape) -> tuple[int, int, int]:
    if shape_kind(shape) != "image":
        raise ShapeError(f"{title} needs an image C×H×W but gets {describe(shape)}.")
    return shape  # type: ignore[return-value]


def _window_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _spatial(title: str, shape: Shape, kernel: int, stride: int, padding: int) -> tuple[int, int]:
    _, h, w = _need_image(title, shape)
    if h + 2 * padding < kernel or w + 2 * padding < kernel:
        raise ShapeError(
            f"{title} has a {kernel}×{kernel} window but its input is only {h}×{w}"
            f"{f' (with padding {padding})' if padding else ''} — use a smaller kernel or remove a pooling layer before it.",
            # Largest first: the window that changes the model least. Inference offers the first
            # that keeps every later block valid (a 1×1 output would break the next pool).
            *(
                Fix(f"Set kernel size to {k}", set_params={"kernel_size": k})
                for k in range(min(h, w) + 2 * padding, 0, -1)
            ),
        )
    return _window_out(h, kernel, stride, padding), _window_out(w, kernel, stride, padding)


def _int(value):
    """(3, 3) -> 3, so square kernels read as they do in hand-written code."""
    if isinstance(value, tuple) and len(set(value)) == 1:
        return value[0]
    return value


def _nondefault(m: Any, **defaults) -> str:
    out = ""
    for name, default in defaults.items():
        value = getattr(m, name)
        if _int(value) != _int(default):
            out += f", {name}={_int(value)}"
    return out


def _conv_infer(p: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    k, s, pad, out = p["kernel_size"], p["stride"], p["padding"], p["out_channels"]
    if shape_kind(shape) == "vector" or shape_kind(shape) == "sequence":
        raise ShapeError(
            f"Conv2d needs an image C×H×W but gets {describe(shape)} — a convolution slides over the height and width of an image."
        )
    h, w = _spatial("Conv2d", shape, k, s, pad)
    return (out, h, w), out * shape[0] * k * k + out


def _conv_build(p: dict[str, Any], shape: Shape):
    from torch import nn

    return nn.Conv2d(shape[0], p["out_channels"], p["kernel_size"], p["stride"], p["padding"])


def _conv_code(m) -> str:
    args = f"{m.in_channels}, {m.out_channels}, kernel_size={_int(m.kernel_size)}, stride={_int(m.stride)}, padding={_int(m.padding)}"
    extras = _nondefault(m, dilation=(1, 1), groups=1)
    return f"nn.Conv2d({args}{extras}{', bias=False' if m.bias is None else ''})"


def _conv_summary(p: dict[str, Any]) -> str:
    k = p["kernel_size"]
    return f"{p['out_channels']} filters · {k}×{k} · stride {p['stride']} · pad {p['padding']}"


def _pool_infer(title: str):
    def infer(p: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
        h, w = _spatial(title, shape, p["kernel_size"], p["stride"], 0)
        return (shape[0], h, w), 0

    return infer


def _pool_build(torch_name: str):
    def build(p: dict[str, Any], shape: Shape):
        from torch import nn

        return getattr(nn, torch_name)(p["kernel_size"], p["stride"])

    return build


def _pool_code(m) -> str:
    return f"nn.{type(m).__name__}(kernel_size={_int(m.kernel_size)}, stride={_int(m.stride)}{_nondefault(m, padding=0)})"


def _pool_summary(p: dict[str, Any]) -> str:
    return f"{p['kernel_size']}×{p['kernel_size']} window · stride {p['stride']}"


_KERNEL = Param(
    "kernel_size", "int", 3, "Kernel size", "Side of the square window, in pixels.", 1, 15
)
_STRIDE = Param("stride", "int", 1, "Stride", "How far the window moves each step.", 1, 8)

CATALOGUE.register(
    BlockType(
        "conv2d",
        "Conv2d",
        "CNN",
        "Convolution: slides small learned filters (kernels) over the image and writes, for every "
        "position, how strongly the patch there matches each filter. Each output channel is one "
        "filter's feature map. Early layers learn edges and blobs, later ones combine them into "
        "parts. Weights are shared across positions, so a conv layer has few parameters and finds "
        "a pattern wherever it appears. Use it first on images.",
        (
            Param(
                "out_channels",
                "int",
                16,
                "Filters",
                "Number of filters, i.e. output channels.",
                1,
                1024,
            ),
            _KERNEL,
            _STRIDE,
            Param(
                "padding",
                "int",
                1,
                "Padding",
                "Zeros added around the border; 1 keeps a 3×3 conv's size.",
                0,
                8,
            ),
        ),
        _conv_infer,
        _conv_build,
        code=_conv_code,
        summary=_conv_summary,
        probes=("feature_maps", "filters"),  # the filters on top: what a CNN learns
    )
)

_POOL_PARAMS = (
    Param("kernel_size", "int", 2, "Window", "Side of the pooling window.", 1, 8),
    Param(
        "stride",
        "int",
        2,
        "Stride",
        "How far the window moves; equal to the window means no overlap.",
        1,
        8,
    ),
)
CATALOGUE.register(
    BlockType(
        "maxpool2d",
        "MaxPool2d",
        "CNN",
        "Max pooling: keeps only the largest value in each small window of every feature map, so a "
        "2×2 window halves height and width. It keeps *whether* a feature was found nearby and "
        "drops exactly where, which makes the network tolerant to small shifts and cuts the work of "
        "later layers. No learned weights.",
        _POOL_PARAMS,
        _pool_infer("MaxPool2d"),
        _pool_build("MaxPool2d"),
        code=_pool_code,
        summary=_pool_summary,
    )
)
CATALOGUE.register(
    BlockType(
        "avgpool2d",
        "AvgPool2d",
        "CNN",
        "Average pooling: replaces each window of a feature map by its mean. Smoother than max "
        "pooling; it keeps how much of a feature is present in the window rather than its peak. "
        "No learned weights.",
        _POOL_PARAMS,
        _pool_infer("AvgPool2d"),
        _pool_build("AvgPool2d"),
        code=_pool_code,
        summary=_pool_summary,
    )
)
