"""Every block's output for the probe sample, from one forward pass: what the canvas's cards draw
as their activation thumbnails."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.probes.common import as_input, eval_mode, frozen_array
from engine.probes.snapshots import BlockOutput


def block_outputs(model: nn.Module, x_sample: torch.Tensor | np.ndarray) -> tuple[BlockOutput, ...]:
    """The output of each block (the model's direct children, named by block id) on one sample
    (1, *input_shape), in forward order, from one pass in eval mode (the mode is restored).

    The batch axis is dropped: an image stack is (C, H, W), a sequence (T, features), a vector
    (features,). A block whose output is not one floating tensor is left out.
    """
    x = as_input(x_sample, model)
    found: list[tuple[str, torch.Tensor]] = []

    def hook_for(name: str):
        def hook(_module, _args, output):
            if isinstance(output, torch.Tensor) and output.is_floating_point() and output.dim():
                # Copy now: an in-place activation in the next block would overwrite it.
                found.append((name, output[0].detach().clone()))

        return hook

    handles = [block.register_forward_hook(hook_for(n)) for n, block in model.named_children()]
    try:
        with torch.no_grad(), eval_mode(model):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    out = []
    for name, value in found:
        values = frozen_array(value)
        finite = np.abs(values[np.isfinite(values)])
        # A zero level would make a thumbnail divide by zero; an all-zero output draws as zero.
        level = float(finite.max()) if finite.size else 0.0
        out.append(BlockOutput(name, values, level or 1.0))
    return tuple(out)
