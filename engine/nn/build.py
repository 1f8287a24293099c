"""ModelSpec -> torch.nn.Module, with submodules named by block id for readable weight names."""

from __future__ import annotations

from collections import OrderedDict

from engine.model.catalogue import CATALOGUE
from engine.model.inference import infer
from engine.model.spec import ModelSpec, SpecError


def build_model(spec: ModelSpec, *, seed: int | None = None):
    """Build an nn.Sequential whose children are the spec's blocks, named by their ids.

    Refuses an invalid spec with its first problem (checked before any tensor is allocated).
    ``seed`` makes the initial weights reproducible.
    """
    import torch
    from torch import nn

    inference = infer(spec)
    if not inference.valid:
        raise SpecError(f"The model cannot be built: {inference.problem}")
    if seed is not None:
        torch.manual_seed(seed)
    modules = OrderedDict()
    for block, info in zip(spec.blocks, inference.blocks, strict=True):
        modules[block.id] = CATALOGUE[block.type].build(block.params, info.input_shape)
    return nn.Sequential(modules)
