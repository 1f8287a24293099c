"""Probes: what the live views show, computed from a model as small immutable numpy snapshots.

Pure engine code (no Qt). Every probe leaves the model's weights, gradients and train/eval
mode as it found them, works for a model on any device, and returns frozen dataclasses of
read-only C-contiguous CPU numpy arrays.
"""

from engine.probes.common import ProbeError
from engine.probes.layers import (
    ClassificationReport,
    FeatureMap,
    FilterSet,
    ForecastReport,
    Histogram,
    activation_histograms,
    classification_report,
    conv_filters,
    feature_maps,
    forecast_report,
    layer_gradient_norms,
    weight_histograms,
)
from engine.probes.recurrent import (
    GATE_NAMES,
    LayerTrace,
    RecurrentTrace,
    recurrent_trace,
    trace_recurrent_module,
)
from engine.probes.time_gradient import TimeGradient, recurrent_gradient_flow

__all__ = [
    "GATE_NAMES",
    "ClassificationReport",
    "FeatureMap",
    "FilterSet",
    "ForecastReport",
    "Histogram",
    "LayerTrace",
    "ProbeError",
    "RecurrentTrace",
    "TimeGradient",
    "activation_histograms",
    "classification_report",
    "conv_filters",
    "feature_maps",
    "forecast_report",
    "layer_gradient_norms",
    "recurrent_gradient_flow",
    "recurrent_trace",
    "trace_recurrent_module",
    "weight_histograms",
]
