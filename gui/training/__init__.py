"""Training in the GUI: the controller the window uses to run training in a child process
(controller.py), the dashboard and its panel, and the live views (views/).

Names are imported on first use, so that importing gui.training.views does not load the bridge.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainingController": "gui.training.controller",
    "STOP_TIMEOUT_MS": "gui.training.controller",
    "DEFAULT_GUI_TORCH_THREADS": "gui.training.controller",
    "UPDATE_HZ": "gui.training.controller",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gui.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
