"""Probes: what the live views show, computed from a model as small immutable numpy snapshots.

Pure engine code (no Qt). Every probe leaves the model's weights, gradients and train/eval
mode as it found them and works for a model on any device.
"""

from engine.probes.common import ProbeError
from engine.probes.recurrent import (
    GATE_NAMES,
    LayerTrace,
    RecurrentTrace,
    recurrent_trace,
    trace_recurrent_module,
)

__all__ = [
    "GATE_NAMES",
    "LayerTrace",
    "ProbeError",
    "RecurrentTrace",
    "recurrent_trace",
    "trace_recurrent_module",
]
