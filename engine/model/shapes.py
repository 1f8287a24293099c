"""Tensor shapes without the batch dimension, and the errors shape rules raise.

A shape's length says what it is: (C, H, W) an image, (T, F) a sequence of T steps with F
features, (F,) a flat vector. Nothing here imports torch, so shapes are known before torch loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]


def shape_kind(shape: Shape) -> str:
    return {3: "image", 2: "sequence", 1: "vector"}.get(len(shape), "tensor")


def describe(shape: Shape) -> str:
    """'an image 1×8×8', 'a sequence 50×2', 'a vector 64'."""
    kind = shape_kind(shape)
    article = "an" if kind == "image" else "a"
    return f"{article} {kind} {format_shape(shape)}"


def format_shape(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def numel(shape: Shape) -> int:
    return math.prod(shape)


@dataclass(frozen=True)
class Fix:
    """A one-click repair a shape rule proposes for the block that failed.

    ``insert_type`` inserts a new block of that catalogue id just before the failing block;
    ``set_params`` changes parameters of the failing block (``target=0``) or of the block
    before it (``target=-1``). A non-empty ``path`` aims the repair inside a container block:
    the failing block is the container's inner block ``path[0]`` (and so on, one index per level).
    """

    label: str
    insert_type: str | None = None
    set_params: dict[str, Any] = field(default_factory=dict)
    target: int = 0
    path: tuple[int, ...] = ()


class ShapeError(ValueError):
    """A block cannot take the shape it is given; ``fix`` repairs it where a repair is known."""

    def __init__(self, message: str, fix: Fix | None = None, *alternatives: Fix):
        super().__init__(message)
        self.fix = fix
        # Repairs in order of preference; inference offers the first that keeps the model valid.
        self.fixes = tuple(f for f in (fix, *alternatives) if f is not None)
