"""The dashboard's live views: each stores the newest snapshot and paints when the timer asks."""

from gui.training.views.base import (
    SAMPLE_KIND,
    LiveView,
)
from gui.training.views.curves import GrowableSeries, LossCurvesView
from gui.training.views.feature_maps import FeatureMapView
from gui.training.views.filters import FilterGridView
from gui.training.views.gates import GateHeatmapView
from gui.training.views.gradients import GradientFlowView
from gui.training.views.histograms import HistogramView
from gui.training.views.plots import (
    PlotCanvas,
)
from gui.training.views.prediction_grid import PredictionGridView
from gui.training.views.predictions import ConfusionMatrixView, ForecastView
from gui.training.views.regions import DecisionRegionView
from gui.training.views.saliency import SaliencyView

__all__ = [
    "SAMPLE_KIND",
    "ConfusionMatrixView",
    "DecisionRegionView",
    "FeatureMapView",
    "FilterGridView",
    "ForecastView",
    "GateHeatmapView",
    "GradientFlowView",
    "GrowableSeries",
    "HistogramView",
    "LiveView",
    "LossCurvesView",
    "PlotCanvas",
    "PredictionGridView",
    "SaliencyView",
]
