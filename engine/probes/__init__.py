"""Probes: what the live views show, computed from a model as small immutable numpy snapshots.

Pure engine code (no Qt). Every probe leaves the model's weights, gradients and train/eval
mode as it found them, works for a model on any device, and returns frozen dataclasses of
read-only C-contiguous CPU numpy arrays.

The snapshot types (engine.probes.snapshots) import no torch, so the window can import them
while torch is still loading; the probe functions are imported from their modules on first
use, for the same reason.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.probes.snapshots import (
    GATE_NAMES,
    BlockOutput,
    ClassificationReport,
    DecisionRegions,
    FeatureMap,
    FilterSet,
    ForecastReport,
    Histogram,
    LayerTrace,
    ProbeError,
    ProbeInput,
    RecurrentTrace,
    SaliencyMap,
    TimeGradient,
)

# The probe functions import torch: they load when first asked for.
_FUNCTIONS = {
    "activation_histograms": "engine.probes.layers",
    "block_outputs": "engine.probes.outputs",
    "classification_report": "engine.probes.layers",
    "conv_filters": "engine.probes.layers",
    "decision_regions": "engine.probes.regions",
    "feature_maps": "engine.probes.layers",
    "forecast_report": "engine.probes.layers",
    "layer_gradient_norms": "engine.probes.layers",
    "weight_histograms": "engine.probes.layers",
    "recurrent_trace": "engine.probes.recurrent",
    "trace_recurrent_module": "engine.probes.recurrent",
    "recurrent_gradient_flow": "engine.probes.time_gradient",
    "saliency_map": "engine.probes.saliency",
}


def __getattr__(name: str) -> Any:
    if name not in _FUNCTIONS:
        raise AttributeError(f"module 'engine.probes' has no attribute {name!r}")
    return getattr(importlib.import_module(_FUNCTIONS[name]), name)


__all__ = [
    "GATE_NAMES",
    "BlockOutput",
    "ClassificationReport",
    "DecisionRegions",
    "FeatureMap",
    "FilterSet",
    "ForecastReport",
    "Histogram",
    "LayerTrace",
    "ProbeError",
    "ProbeInput",
    "RecurrentTrace",
    "SaliencyMap",
    "TimeGradient",
    *sorted(_FUNCTIONS),
]
