"""Where everything goes on the canvas: one row per card, top to bottom, through residual blocks.

A residual block is a row for its own card (the group's header), the rows of its inner blocks,
and a short closing row where its skip path is added back (the ⊕). Cards keep one x and one
width at every depth; a group's frame grows outward by a lane per level of nesting, and the
skip arrow runs down that lane. A model without residual blocks is laid out as it always was:
card ``i`` at ``card_top(i)``. Pure arithmetic, no Qt, so it is tested without a window.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.model.inference import BlockInfo, Inference
from engine.model.shapes import Shape
from engine.model.spec import BlockPath, BlockSpec, ModelSpec

BLOCK_HEIGHT = 56.0
LINK_LENGTH = 36.0  # vertical gap between two rows; the link and its shape label live here
END_HEIGHT = 24.0  # the closing row of a residual block: the ⊕ where the skip is added
LANE = 22.0  # width a group's frame adds on each side, per level of nesting it holds
END_SUFFIX = "/add"  # row key of a residual block's closing row: "residual1/add"


def card_top(position: int) -> float:
    """Scene y of the top of row ``position`` of a model without residual blocks (-1 is the
    Input, 0 the first block)."""
    return (position + 1) * (BLOCK_HEIGHT + LINK_LENGTH)


@dataclass(frozen=True)
class Row:
    key: str  # the block id ("<input>" for the Input), or a closing row's id + END_SUFFIX
    path: BlockPath  # the block's path (the container's, for its closing row); () the Input
    top: float
    height: float
    shape_below: Shape | None  # what flows down the link under this row
    known_below: bool
    block: BlockSpec | None = None  # None for the Input
    info: BlockInfo | None = None  # None where inference did not reach the block

    @property
    def closing(self) -> bool:
        return self.key.endswith(END_SUFFIX)

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Group:
    """A residual block's frame: from its card's top to its closing row's bottom."""

    block_id: str
    top: float
    bottom: float
    margin: float  # how far the frame reaches out beyond the cards on each side
    join: str | None  # what the skip path does ("identity", "Linear 16→8"); None if unknown


@dataclass(frozen=True)
class Layout:
    rows: tuple[Row, ...]
    groups: tuple[Group, ...]
    gaps: tuple[tuple[float, BlockPath], ...]  # (scene y, where a block dropped there goes)

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)

    def gap_at(self, y: float, exclude: BlockPath | None = None) -> BlockPath:
        """The insertion path of the gap nearest to ``y``; gaps inside ``exclude`` (a block
        being dragged) are skipped: a block cannot go inside itself."""
        gaps = [
            g for g in self.gaps
            if exclude is None or not (g[1][: len(exclude)] == exclude and len(g[1]) > len(exclude))
        ]  # fmt: skip
        return min(gaps, key=lambda g: abs(g[0] - y))[1]

    def gap_y(self, path: BlockPath) -> float:
        return next(y for y, p in self.gaps if p == path)

    @property
    def bottom(self) -> float:
        return self.rows[-1].bottom + LINK_LENGTH


def lay_out(spec: ModelSpec, inference: Inference, input_key: str) -> Layout:
    rows = [Row(input_key, (), 0.0, BLOCK_HEIGHT, inference.input_shape, True)]
    groups: list[Group] = []
    gaps: list[tuple[float, BlockPath]] = []
    _stack(spec.blocks, inference.blocks, (), rows, groups, gaps)
    gaps.append((rows[-1].bottom + LINK_LENGTH / 2, (len(spec.blocks),)))
    return Layout(tuple(rows), tuple(groups), tuple(gaps))


def _next_top(rows: list[Row]) -> float:
    return rows[-1].bottom + LINK_LENGTH


def _stack(blocks, infos, prefix: BlockPath, rows: list, groups: list, gaps: list) -> None:
    for index, block in enumerate(blocks):
        info = infos[index] if index < len(infos) else None
        path, top = (*prefix, index), _next_top(rows)
        gaps.append((top - LINK_LENGTH / 2, path))
        if not block.is_container:
            known = info is not None and info.ok
            shape = info.output_shape if info is not None else None
            rows.append(Row(block.id, path, top, BLOCK_HEIGHT, shape, known, block, info))
            continue
        entering = info.input_shape if info is not None else None
        rows.append(
            Row(block.id, path, top, BLOCK_HEIGHT, entering, entering is not None, block, info)
        )
        _stack(block.blocks, info.inner if info else (), path, rows, groups, gaps)
        end_top = _next_top(rows)
        gaps.append((end_top - LINK_LENGTH / 2, (*path, len(block.blocks))))
        known = info is not None and info.ok
        shape = info.output_shape if info is not None else None
        rows.append(
            Row(block.id + END_SUFFIX, path, end_top, END_HEIGHT, shape, known, block, info)
        )
        margin = LANE * (1 + _nesting(block))
        join = info.join if info is not None else None
        groups.append(Group(block.id, top - 8.0, end_top + END_HEIGHT + 6.0, margin, join))


def _nesting(block: BlockSpec) -> int:
    return max((1 + _nesting(b) for b in block.blocks if b.is_container), default=0)
