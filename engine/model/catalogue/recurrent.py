"""The recurrent blocks: RNN, LSTM and GRU, one entry each over the rules they share."""

from __future__ import annotations

from typing import Any

from engine.model.catalogue.registry import CATALOGUE, BlockType
from engine.model.params import Param
from engine.model.shapes import Fix, Shape, ShapeError, describe, shape_kind


def _infer(title: str, gates: int):
    """Shape rule of a recurrent block with ``gates`` weight sets per layer and direction."""

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


def _build(module: str, extra: tuple[str, ...]):
    """Builder of engine.nn.modules.<module>, passing the block's ``extra`` parameters on."""

    def build(p: dict[str, Any], shape: Shape):
        from engine.nn import modules

        return getattr(modules, module)(
            shape[1],
            p["hidden_size"],
            num_layers=p["num_layers"],
            bidirectional=p["bidirectional"],
            return_sequence=p["return_sequence"],
            **{name: p[name] for name in extra},
        )

    return build


def _code(torch_name: str, code_args: tuple[str, ...]):
    """The plain nn.<torch_name> that the exported Python uses in place of the block's class."""

    def code(m) -> str:
        args = [str(m.input_size), str(m.hidden_size), f"num_layers={m.num_layers}"]
        args += [f"{name}={getattr(m, name)!r}" for name in code_args]
        if not m.bias:
            args.append("bias=False")
        if m.dropout:
            args.append(f"dropout={m.dropout!r}")
        if getattr(m, "proj_size", 0):
            args.append(f"proj_size={m.proj_size}")
        args += ["batch_first=True", f"bidirectional={m.bidirectional}"]
        return f"nn.{torch_name}({', '.join(args)})"

    return code


def _forward(state: str):
    """forward() lines: the plain module returns (output, ``state``), and the block's
    last-step rule is spelled out instead of hidden in its class."""

    def forward(block_id: str, m, shape: str) -> list[str]:
        if m.return_sequence:
            return [f"x, _ = self.{block_id}(x)  # every time step: {shape[2:]}"]
        lines = [f"_, {state} = self.{block_id}(x)  # h_n: (layers × directions, N, hidden)"]
        if m.bidirectional:
            return lines + [
                "# Last step: the final hidden states of the last layer, forward (h_n[-2]) and",
                "# backward (h_n[-1], which has read the sequence back to its first step), side by side.",
                f"x = torch.cat([h_n[-2], h_n[-1]], dim=1)  {shape}",
            ]
        return lines + [
            f"x = h_n[-1]  # last step: the last layer's final hidden state {shape[2:]}"
        ]

    return forward


def _summary(p: dict[str, Any]) -> str:
    parts = [f"{p['hidden_size']} hidden"]
    if p["num_layers"] > 1:
        parts.append(f"{p['num_layers']} layers")
    if p["bidirectional"]:
        parts.append("bidirectional")
    if p.get("nonlinearity", "tanh") != "tanh":
        parts.append(p["nonlinearity"])
    parts.append("all steps" if p["return_sequence"] else "last step")
    return " · ".join(parts)


_PARAMS = (
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


def _recurrent(
    block_id: str,
    title: str,
    help_text: str,
    *,
    gates: int,
    module: str,
    state: str = "h_n",
    extra: tuple[Param, ...] = (),
    in_code: tuple[str, ...] = (),
) -> None:
    """Register a recurrent block: ``gates`` weight sets per layer, built as
    engine.nn.modules.<module> with the ``extra`` parameters, exported as plain nn.<title>
    (writing the ``in_code`` attributes) whose state is ``state``."""
    CATALOGUE.register(
        BlockType(
            block_id,
            title,
            "RNN",
            help_text,
            _PARAMS + extra,
            _infer(title, gates),
            _build(module, tuple(p.name for p in extra)),
            code=_code(title, in_code),
            forward_code=_forward(state),
            summary=_summary,
            probes=("gates", "time_gradients"),
        )
    )


_recurrent(
    "rnn",
    "RNN",
    "Recurrent layer (vanilla RNN): reads a sequence one step at a time and keeps a hidden "
    "state, h_t = tanh(W x_t + U h_(t-1) + b). The loop is its memory: each output depends on "
    "the current input and on everything seen before, which a feed-forward network cannot do, "
    "and the same weights are shared by every step, so it handles sequences of any length. "
    "Its weakness: the gradient is multiplied by U at every step back in time, so over long "
    "sequences it vanishes (or explodes) and the RNN cannot learn long-range dependencies. "
    "Watch it in the gradient-flow view; compare with LSTM.",
    gates=1,
    module="RNNBlock",
    extra=(
        Param(
            "nonlinearity",
            "choice",
            "tanh",
            "Non-linearity",
            "Activation of the hidden state.",
            choices=("tanh", "relu"),
        ),
        Param(
            "recurrent_gain",
            "float",
            0.0,
            "Recurrent init gain",
            "0: PyTorch's initial weights. Above 0: the recurrent matrix U starts as this gain "
            "times a random orthogonal matrix, so each step back in time multiplies the "
            "gradient by up to this much. Above 1 (with ReLU) the gradient explodes back "
            "through time; below 1 it vanishes. Only the starting weights change.",
            0.0,
            10.0,
        ),
    ),
    in_code=("nonlinearity",),
)
_recurrent(
    "lstm",
    "LSTM",
    "Long Short-Term Memory: a recurrent layer with a memory cell c_t and three gates that "
    "decide what flows in and out of it. The forget gate chooses what of the old memory to "
    "keep; the input gate chooses which new information (the candidate) to write; the output "
    "gate chooses how much of the memory to show as the hidden state h_t. Because the cell is "
    "updated by addition (c_t = f·c_(t-1) + i·g) rather than repeated multiplication, the "
    "gradient can flow back through many steps without vanishing: this is how the LSTM fixes "
    "the vanilla RNN's vanishing-gradient problem and remembers over long sequences. Watch "
    "its gates in the gates view.",
    gates=4,
    module="LSTMBlock",
    state="(h_n, c_n)",
    extra=(
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
    ),
)
_recurrent(
    "gru",
    "GRU",
    "Gated Recurrent Unit: a lighter LSTM with two gates and no separate cell. The update gate "
    "mixes the old hidden state with a new candidate (so memory passes through by "
    "interpolation, which keeps gradients alive); the reset gate decides how much of the past "
    "the candidate may look at. Often as good as an LSTM with fewer parameters.",
    gates=3,
    module="GRUBlock",
)
