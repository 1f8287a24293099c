"""What a block type is (BlockType) and the registry that holds them by stable id.

Everything about a block lives in its entry: parameters, shape rule, torch builder, help text,
the code the Python export writes for it, the one-line summary the canvas shows and the probes
that look inside it. Builders import torch when called; nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.model.params import Param, ParamError, shown
from engine.model.shapes import Shape

# infer(params, input_shape) -> (output_shape, parameter_count); raises ShapeError.
ShapeRule = Callable[[dict[str, Any], Shape], tuple[Shape, int]]
# build(params, input_shape) -> torch.nn.Module
Builder = Callable[[dict[str, Any], Shape], Any]
# code(built module) -> the Python expression that constructs it ("nn.Conv2d(1, 16, ...)")
CodeWriter = Callable[[Any], str]
# forward_code(block id, built module, output-shape comment) -> forward() lines, unindented
ForwardWriter = Callable[[str, Any, str], list[str]]
# summary(params) -> the parameters worth reading at a glance ("16 filters · 3×3 · …")
Summary = Callable[[dict[str, Any]], str]

GROUPS = ("CNN", "RNN", "Core")


@dataclass(frozen=True)
class ContainerRule:
    """What makes a block a container of its own stack of blocks (the residual block).

    Inference runs the inner stack like a model of its own, then ``join`` says what the block
    makes of its input and the inner stack's output; ``build`` wraps the built inner stack.
    """

    # join(input shape, inner output shape) -> (output shape, parameters of the join, what the
    # join does in words: "identity" or "1×1 Conv2d 16→32, stride 2"); raises ShapeError.
    join: Callable[[Shape, Shape], tuple[Shape, int, str]]
    # build(inner nn.Sequential, input shape, inner output shape) -> torch.nn.Module
    build: Callable[[Any, Shape, Shape], Any]
    # forward(block id, inner forward lines, the join's module or None, shape comment) -> the
    # lines of the generated Python module's forward() for the whole container
    forward_code: Callable[[str, list[str], Any, str], list[str]]


def plain_forward(block_id: str, _module: Any, shape: str) -> list[str]:
    """The forward line of a block that maps x to x."""
    return [f"x = self.{block_id}(x)  {shape}".rstrip()]


@dataclass(frozen=True)
class BlockType:
    id: str
    title: str
    group: str  # the palette section and the canvas colour family
    help: str
    params: tuple[Param, ...]
    infer: ShapeRule
    build: Builder
    code: CodeWriter | None = None  # None: the Python export refuses the block by name
    forward_code: ForwardWriter = plain_forward
    summary: Summary | None = None  # None: every parameter as "title value"
    # Probe kinds (engine.probes.registry) that look inside this block; their views are
    # brought forward in this order when a model gains the block, so the last one is on top.
    probes: tuple[str, ...] = ()
    container: ContainerRule | None = None  # None: a plain block

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
                raise ParamError(
                    f"{shown(name)} is not a parameter of {self.title} (it has: {allowed})"
                )
        out = {}
        for p in self.params:
            try:
                out[p.name] = p.validate(raw.get(p.name, p.default))
            except ParamError as err:
                raise ParamError(f"'{p.name}' {err}") from None
        return out

    def summarise(self, params: dict[str, Any]) -> str:
        """The block's parameters in words a student knows, for the canvas card."""
        if self.summary is not None:
            return self.summary(params)
        if not self.params:  # what the block does: the first clause of its help text
            return self.help.split(":", 1)[-1].split(". ")[0].strip().rstrip(".")
        return " · ".join(f"{p.title.lower()} {_value(params[p.name])}" for p in self.params)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


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
