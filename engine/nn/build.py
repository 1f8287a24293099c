"""ModelSpec -> torch.nn.Module, with submodules named by block id for readable weight names."""

from __future__ import annotations

from collections import OrderedDict

from engine.model.catalogue import CATALOGUE
from engine.model.inference import BlockInfo, infer
from engine.model.spec import BlockSpec, ModelSpec, SpecError


def build_model(spec: ModelSpec, *, seed: int | None = None):
    """Build an nn.Sequential whose children are the spec's blocks, named by their ids.

    Refuses an invalid spec with its first problem (checked before any tensor is allocated).
    ``seed`` makes the initial weights reproducible. A container block (residual) is a module
    whose ``inner`` is built the same way, so its weights read "residual1.inner.dense2.weight".
    """
    import torch

    inference = infer(spec)
    if not inference.valid:
        raise SpecError(f"The model cannot be built: {inference.problem}")
    if seed is not None:
        torch.manual_seed(seed)
    return _build_stack(spec.blocks, inference.blocks)


def _build_stack(blocks: tuple[BlockSpec, ...], infos: tuple[BlockInfo, ...]):
    from torch import nn

    modules = OrderedDict()
    for block, info in zip(blocks, infos, strict=True):
        block_type = CATALOGUE[block.type]
        if block_type.container is not None:
            inner = _build_stack(block.blocks, info.inner)
            inner_shape = info.inner[-1].output_shape
            modules[block.id] = block_type.container.build(inner, info.input_shape, inner_shape)
        else:
            modules[block.id] = block_type.build(block.params, info.input_shape)
    return nn.Sequential(modules)
