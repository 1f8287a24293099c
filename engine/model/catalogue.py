"""The block catalogue: every block's parameters, shape rule, torch builder and help text.

One registry keyed by a stable id (the id is what model files store). Adding a block is one
``register`` call here plus its row in the parametrised block test; nothing else to touch.
Shape rules never import torch; builders import it when called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.model.params import Param, ParamError
from engine.model.shapes import Fix, Shape, ShapeError, describe, format_shape, shape_kind

# infer(params, input_shape) -> (output_shape, parameter_count); raises ShapeError.
ShapeRule = Callable[[dict[str, Any], Shape], tuple[Shape, int]]
# build(params, input_shape) -> torch.nn.Module
Builder = Callable[[dict[str, Any], Shape], Any]

GROUPS = ("CNN", "RNN", "Core")


@dataclass(frozen=True)
class BlockType:
    id: str
    title: str
    group: str
    help: str
    params: tuple[Param, ...]
    infer: ShapeRule
    build: Builder

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate_params(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Complete ``raw`` with defaults and check every value; unknown names are refused."""
        known = {p.name for p in self.params}
        for name in raw:
            if name not in known:
                allowed = ", ".join(sorted(known)) or "none"
                raise ParamError(f"'{name}' is not a parameter of {self.title} (it has: {allowed})")
        out = {}
        for p in self.params:
            try:
                out[p.name] = p.validate(raw.get(p.name, p.default))
            except ParamError as err:
                raise ParamError(f"'{p.name}' {err}") from None
        return out


class BlockRegistry:
    """Catalogue of block types by stable id; registering an id twice is an error."""

    def __init__(self) -> None:
        self._types: dict[str, BlockType] = {}

    def register(self, block: BlockType) -> BlockType:
        if block.id in self._types:
            raise ValueError(f"A block with id {block.id!r} is already registered.")
        if block.group not in GROUPS:
            raise ValueError(f"Block {block.id!r} has unknown group {block.group!r}.")
        self._types[block.id] = block
        return block

    def __getitem__(self, block_id: str) -> BlockType:
        return self._types[block_id]

    def __contains__(self, block_id: object) -> bool:
        return block_id in self._types

    def __iter__(self) -> Iterator[BlockType]:
        return iter(self._types.values())

    def ids(self) -> list[str]:
        return list(self._types)

    def in_group(self, group: str) -> list[BlockType]:
        return [b for b in self._types.values() if b.group == group]


CATALOGUE = BlockRegistry()


# ---------------------------------------------------------------- shared shape-rule helpers


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
            Fix(
                f"Set kernel size to {min(h, w) + 2 * padding}",
                set_params={"kernel_size": min(h, w) + 2 * padding},
            ),
        )
    return _window_out(h, kernel, stride, padding), _window_out(w, kernel, stride, padding)


def _same(params: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
    return shape, 0


# ---------------------------------------------------------------- CNN blocks


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


def _pool_infer(title: str):
    def infer(p: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
        h, w = _spatial(title, shape, p["kernel_size"], p["stride"], 0)
        return (shape[0], h, w), 0

    return infer


def _pool_build(kind: str):
    def build(p: dict[str, Any], shape: Shape):
        from torch import nn

        cls = nn.MaxPool2d if kind == "max" else nn.AvgPool2d
        return cls(p["kernel_size"], p["stride"])

    return build


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
        _pool_build("max"),
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
        _pool_build("avg"),
    )
)


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
    )
)


def _dropout_build(p: dict[str, Any], shape: Shape):
    from torch import nn

    return nn.Dropout(p["p"])


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
    )
)


def _flatten_build(p: dict[str, Any], shape: Shape):
    from torch import nn

    return nn.Flatten()


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
    )
)


def _activation(block_id: str, title: str, torch_name: str, help_text: str, params=()):
    def build(p: dict[str, Any], shape: Shape):
        from torch import nn

        return getattr(nn, torch_name)(**p)

    CATALOGUE.register(BlockType(block_id, title, "Core", help_text, params, _same, build))


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
)


# ---------------------------------------------------------------- RNN blocks

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _recurrent_infer(block_id: str, title: str):
    gates = _GATES[block_id]

    def infer(p: dict[str, Any], shape: Shape) -> tuple[Shape, int]:
        if shape_kind(shape) == "vector":
            raise ShapeError(
                f"{title} needs a sequence T×F but gets {describe(shape)} — the block before it "
                "returns a single step; set it to return the whole sequence.",
                Fix(
                    "Make the previous block return the whole sequence",
                    set_params={"return_sequence": True},
                    target=-1,
                ),
            )
        if shape_kind(shape) != "sequence":
            raise ShapeError(
                f"{title} needs a sequence T×F but gets {describe(shape)} — use a sequence "
                "input (T×F), or Conv2d blocks for images."
            )
        steps, features = shape
        hidden, dirs = p["hidden_size"], 2 if p["bidirectional"] else 1
        count = 0
        for layer in range(p["num_layers"]):
            width = features if layer == 0 else hidden * dirs
            count += dirs * gates * (hidden * (width + hidden) + 2 * hidden)
        out = (steps, hidden * dirs) if p["return_sequence"] else (hidden * dirs,)
        return out, count

    return infer


def _recurrent_build(block_id: str):
    def build(p: dict[str, Any], shape: Shape):
        from engine.nn import modules

        cls = {"rnn": modules.RNNBlock, "gru": modules.GRUBlock, "lstm": modules.LSTMBlock}[
            block_id
        ]
        extra = {"nonlinearity": p["nonlinearity"]} if block_id == "rnn" else {}
        if block_id == "lstm":
            extra = {"forget_bias": p["forget_bias"]}
        return cls(
            shape[1],
            p["hidden_size"],
            num_layers=p["num_layers"],
            bidirectional=p["bidirectional"],
            return_sequence=p["return_sequence"],
            **extra,
        )

    return build


def _recurrent_params(block_id: str) -> tuple[Param, ...]:
    params = (
        Param(
            "hidden_size",
            "int",
            64,
            "Hidden units",
            "Size of the hidden state (the memory).",
            1,
            4096,
        ),
        Param("num_layers", "int", 1, "Layers", "Recurrent layers stacked on each other.", 1, 8),
        Param(
            "bidirectional",
            "bool",
            False,
            "Bidirectional",
            "Also read the sequence backwards and concatenate both.",
        ),
        Param(
            "return_sequence",
            "bool",
            False,
            "Return sequence",
            "On: output every time step (T×H), for another recurrent block or per-step prediction. "
            "Off: output only the last step (H), for a Dense classifier.",
        ),
    )
    if block_id == "lstm":
        params += (
            Param(
                "forget_bias",
                "float",
                1.0,
                "Forget-gate bias",
                "Initial bias of the forget gate. Positive values make a new LSTM keep its "
                "memory by default, so it can learn long dependencies (Gers et al. 2000; "
                "Jozefowicz et al. 2015). Only the starting weights change.",
                0.0,
                10.0,
            ),
        )
    if block_id == "rnn":
        params += (
            Param(
                "nonlinearity",
                "choice",
                "tanh",
                "Non-linearity",
                "Activation of the hidden state.",
                choices=("tanh", "relu"),
            ),
        )
    return params


CATALOGUE.register(
    BlockType(
        "rnn",
        "RNN",
        "RNN",
        "Recurrent layer (vanilla RNN): reads a sequence one step at a time and keeps a hidden "
        "state, h_t = tanh(W x_t + U h_(t-1) + b). The loop is its memory: each output depends on "
        "the current input and on everything seen before, which a feed-forward network cannot do, "
        "and the same weights are shared by every step, so it handles sequences of any length. "
        "Its weakness: the gradient is multiplied by U at every step back in time, so over long "
        "sequences it vanishes (or explodes) and the RNN cannot learn long-range dependencies. "
        "Watch it in the gradient-flow view; compare with LSTM.",
        _recurrent_params("rnn"),
        _recurrent_infer("rnn", "RNN"),
        _recurrent_build("rnn"),
    )
)
CATALOGUE.register(
    BlockType(
        "lstm",
        "LSTM",
        "RNN",
        "Long Short-Term Memory: a recurrent layer with a memory cell c_t and three gates that "
        "decide what flows in and out of it. The forget gate chooses what of the old memory to "
        "keep; the input gate chooses which new information (the candidate) to write; the output "
        "gate chooses how much of the memory to show as the hidden state h_t. Because the cell is "
        "updated by addition (c_t = f·c_(t-1) + i·g) rather than repeated multiplication, the "
        "gradient can flow back through many steps without vanishing: this is how the LSTM fixes "
        "the vanilla RNN's vanishing-gradient problem and remembers over long sequences. Watch "
        "its gates in the gates view.",
        _recurrent_params("lstm"),
        _recurrent_infer("lstm", "LSTM"),
        _recurrent_build("lstm"),
    )
)
CATALOGUE.register(
    BlockType(
        "gru",
        "GRU",
        "RNN",
        "Gated Recurrent Unit: a lighter LSTM with two gates and no separate cell. The update gate "
        "mixes the old hidden state with a new candidate (so memory passes through by "
        "interpolation, which keeps gradients alive); the reset gate decides how much of the past "
        "the candidate may look at. Often as good as an LSTM with fewer parameters.",
        _recurrent_params("gru"),
        _recurrent_infer("gru", "GRU"),
        _recurrent_build("gru"),
    )
)


INPUT_HELP = (
    "Input: the shape of one sample, without the batch. An image is C×H×W (channels, height, "
    "width; 1 channel for grey), a sequence is T×F (time steps × features per step), a vector "
    "is F numbers (a point, a row of a table). Choosing a dataset sets it for you."
)

__all__ = [
    "CATALOGUE",
    "INPUT_HELP",
    "BlockRegistry",
    "BlockType",
    "Fix",
    "ParamError",
    "ShapeError",
    "format_shape",
]
