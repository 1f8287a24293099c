"""Saliency and Grad-CAM: which pixels, and which places in the last conv layer's maps, the
predicted class's score depends on, for one image."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - torch's own name for it
from torch import nn

from engine.probes.common import ProbeError, as_input, eval_mode, frozen_array
from engine.probes.snapshots import SaliencyMap


def last_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The name and module of the model's last Conv2d, in module order."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not found:
        raise ProbeError("Saliency and Grad-CAM need an image classifier with a Conv2d block.")
    return found[-1]


def _scaled(value: torch.Tensor) -> np.ndarray:
    # 0..1 by the largest value; an all-zero map stays zero rather than dividing by zero.
    top = float(value.max()) if value.numel() else 0.0
    return frozen_array(value / top if top > 0 else value)


def _label(y_one) -> int:
    if y_one is None:
        return -1
    y = torch.as_tensor(y_one).reshape(-1)
    if y.numel() > 1:  # a one-hot row
        return int(y.argmax())
    return int(y[0]) if y.numel() and not y.is_floating_point() else -1


def saliency_map(
    model: nn.Module, x_sample: torch.Tensor | np.ndarray, y_sample=None
) -> SaliencyMap:
    """Saliency (|input gradient| of the predicted class's score, largest over channels) and
    Grad-CAM on the last Conv2d for one image (1, C, H, W) or (C, H, W).

    Runs on a copy of the image, in eval mode (restored), and takes its gradients with
    torch.autograd.grad, so the parameters' .grad (the optimiser's) are left untouched.
    """
    x = as_input(x_sample, model).detach().clone()
    x = x.unsqueeze(0) if x.dim() == 3 else x
    if x.dim() != 4 or x.shape[0] != 1:
        raise ProbeError(f"Saliency needs one image (1, C, H, W); got {tuple(x.shape)}.")
    name, conv = last_conv(model)
    x.requires_grad_(True)
    kept: list[torch.Tensor] = []

    def keep(_module, _args, output):
        kept.append(output)
        # The model goes on with a copy: an in-place activation next would overwrite the maps.
        return output.clone()

    handle = conv.register_forward_hook(keep)
    try:
        with torch.enable_grad(), eval_mode(model):
            scores = model(x)
            if scores.dim() != 2 or len(kept) != 1:
                raise ProbeError(
                    f"Saliency needs a classifier whose {name} runs once and that outputs one "
                    f"score per class; this model outputs {tuple(scores.shape[1:])}."
                )
            probability, predicted = torch.softmax(scores.detach().float(), dim=1).max(dim=1)
            c = int(predicted[0])
            maps = kept[0]
            grad_x, grad_maps = torch.autograd.grad(scores[0, c], (x, maps))
    finally:
        handle.remove()
    saliency = grad_x[0].detach().abs().amax(dim=0)
    weights = grad_maps[0].mean(dim=(1, 2))  # (K,): each map's average gradient
    cam = torch.relu((weights[:, None, None] * maps[0].detach()).sum(dim=0))
    cam = F.interpolate(cam[None, None], size=x.shape[2:], mode="bilinear", align_corners=False)
    return SaliencyMap(
        image=frozen_array(x[0].detach()),
        saliency=_scaled(saliency.float()),
        grad_cam=_scaled(cam[0, 0].float()),
        cam_layer=name,
        predicted=c,
        probability=float(probability[0]),
        label=_label(y_sample),
    )
