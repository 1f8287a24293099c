"""Shape inference over a ModelSpec, without torch: each block's output shape and parameter count.

Runs on every edit, so it is pure Python and cheap. Inference stops at the first block that
cannot take its input; the blocks after it have no shape until that one is fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from engine.model.catalogue import CATALOGUE
from engine.model.params import ParamError
from engine.model.shapes import Fix, Shape, ShapeError, format_shape, numel
from engine.model.spec import ModelSpec

# Bounds that keep a model from exhausting memory before anything is allocated (README: Limits).
MAX_PARAMETERS = 50_000_000
MAX_ACTIVATION_VALUES = 16_777_216  # values in one block's output for one sample
# Each repair tried costs one inference of the model; a few dozen stay well under a millisecond.
_MAX_FIXES_TRIED = 64


@dataclass(frozen=True)
class BlockInfo:
    index: int
    block_id: str
    input_shape: Shape | None
    output_shape: Shape | None
    param_count: int
    error: str | None = None
    fix: Fix | None = None
    # A container's inner blocks, and what its skip path does ("identity", "Linear 16→32").
    inner: tuple[BlockInfo, ...] = ()
    join: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.output_shape is not None


@dataclass(frozen=True)
class Inference:
    blocks: tuple[BlockInfo, ...]
    input_shape: Shape
    output_shape: Shape | None
    total_params: int

    @property
    def valid(self) -> bool:
        return self.first_error is None and bool(self.blocks)

    @property
    def first_error(self) -> BlockInfo | None:
        return next((b for b in self.blocks if b.error), None)

    def find(self, block_id: str) -> BlockInfo | None:
        """The info of any block by id, nested ones included."""
        stack = list(self.blocks)
        while stack:
            info = stack.pop()
            if info.block_id == block_id:
                return info
            stack.extend(info.inner)
        return None

    @property
    def problem(self) -> str | None:
        """Why the model cannot be trained, as one sentence; None when it can."""
        if not self.blocks:
            return "The model has no blocks — add some from the palette."
        err = self.first_error
        return f"Block {err.index + 1} ('{err.block_id}'): {err.error}" if err else None


def infer(spec: ModelSpec, check_fixes: bool = True) -> Inference:
    """Infer every block's output shape and parameter count, stopping at the first error.

    The failing block's Fix is the first repair its shape rule proposes after which the whole
    model is valid; a repair that would only move the error further down is not offered.
    """
    shape: Shape | None = spec.input.shape
    total = 0
    infos: list[BlockInfo] = []
    for index, block in enumerate(spec.blocks):
        if shape is None:
            infos.append(BlockInfo(index, block.id, None, None, 0, None))
            continue
        block_type = CATALOGUE[block.type]
        if block_type.container is not None:
            info = _infer_container(spec, index, shape, total, check_fixes)
            infos.append(info)
            total += info.param_count
            shape = info.output_shape
            continue
        try:
            out, count = block_type.infer(block.params, shape)
            _check_bounds(block_type.title, out, total + count)
        except ShapeError as err:
            fix = _keeping_valid(spec, index, err.fixes) if check_fixes else None
            message = str(err)
            if check_fixes and err.fixes and fix is None:
                message += " No one-click fix keeps the blocks after it valid."
            infos.append(BlockInfo(index, block.id, shape, None, 0, message, fix))
            shape = None
            continue
        infos.append(BlockInfo(index, block.id, shape, out, count))
        total += count
        shape = out
    return Inference(tuple(infos), spec.input.shape, shape, total)


def _infer_container(
    spec: ModelSpec, index: int, shape: Shape, total: int, check_fixes: bool
) -> BlockInfo:
    """A container runs its inner stack as a model of its own, then joins it with its input.

    An inner block's problem is the container's, named by its path ("residual1 › dense2"),
    with the inner block's fix aimed at it through the container (Fix.path).
    """
    block = spec.blocks[index]
    rule = CATALOGUE[block.type].container
    if not block.blocks:
        message = (
            f"The {block.title} block is empty — drag blocks into it, or delete it "
            "(an empty one would only double its input)."
        )
        return BlockInfo(index, block.id, shape, None, 0, message)
    inner = infer(spec.inner_spec(index, shape), check_fixes)
    failed = inner.first_error
    if failed is not None:
        fix = None
        if failed.fix is not None:
            fix = replace(failed.fix, path=(failed.index, *failed.fix.path))
            fix = fix if _keeping_valid(spec, index, (fix,)) else None
        where = failed.error if failed.inner else f"{failed.block_id}: {failed.error}"
        message = f"{block.id} › {where}"
        if failed.fix is not None and fix is None:
            message += " No one-click fix keeps the blocks after it valid."
        return BlockInfo(index, block.id, shape, None, 0, message, fix, inner.blocks)
    try:
        out, count, join = rule.join(shape, inner.output_shape)
        _check_bounds(block.title, out, total + inner.total_params + count)
    except ShapeError as err:
        return BlockInfo(index, block.id, shape, None, 0, str(err), None, inner.blocks)
    params = inner.total_params + count
    return BlockInfo(index, block.id, shape, out, params, None, None, inner.blocks, join)


def _keeping_valid(spec: ModelSpec, index: int, fixes: tuple[Fix, ...]) -> Fix | None:
    for fix in fixes[:_MAX_FIXES_TRIED]:
        if fix.target == -1 and (index == 0 or not _accepts(spec, index - 1, fix)):
            continue
        try:
            fixed = spec.apply_fix(index, fix)
        except (ParamError, ValueError):  # out of the parameter's range: not a repair
            continue
        if infer(fixed, check_fixes=False).valid:
            return fix
    return None


def _accepts(spec: ModelSpec, index: int, fix: Fix) -> bool:
    """A fix aimed at the previous block only makes sense if that block has those parameters."""
    names = {p.name for p in CATALOGUE[spec.blocks[index].type].params}
    return set(fix.set_params) <= names


def _check_bounds(title: str, out: Shape, total_params: int) -> None:
    if any(d < 1 for d in out):
        raise ShapeError(
            f"{title} would produce an empty output {format_shape(out)} — its input is too small."
        )
    if total_params > MAX_PARAMETERS:
        raise ShapeError(
            f"The model would have {total_params:,} parameters at this block, more than LayerLab's "
            f"limit of {MAX_PARAMETERS:,} — make this block smaller or pool before it."
        )
    if numel(out) > MAX_ACTIVATION_VALUES:
        raise ShapeError(
            f"{title} would output {numel(out):,} values per sample ({format_shape(out)}), more than "
            f"LayerLab's limit of {MAX_ACTIVATION_VALUES:,} — use fewer channels or a stride."
        )


def training_memory(inference: Inference, batch_size: int, val_batch_size: int) -> int:
    """Bytes a training run of this model holds at its peak, counted before anything is built:
    the float32 weights, their gradients and two optimiser moments (Adam's; SGD keeps fewer),
    and every block's output for a batch, kept for backward and matched by its gradient (or,
    for validation, one larger batch without gradients)."""
    values_per_sample = math.prod(inference.input_shape) + _output_values(inference.blocks)
    activations = values_per_sample * max(2 * batch_size, val_batch_size)
    return 4 * (4 * inference.total_params + activations)


def _output_values(blocks: tuple[BlockInfo, ...]) -> int:
    # A container keeps its inner blocks' outputs for backward as well as its own.
    return sum(
        math.prod(b.output_shape) + _output_values(b.inner) for b in blocks if b.output_shape
    )
