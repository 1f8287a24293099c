"""The probe registry: one entry per probe kind, holding everything about it.

An entry says how to compute the probe (a function of the running probe context, which imports
torch only when called), how often it runs by default, when in a step it runs, whether it
looks at the one chosen sample, which models it applies to, the titles of the views that
show it, and whether the canvas's cards draw it (``on_cards``: the activation thumbnails). The scheduler, the trainer's probe callback and the window's routing all read this;
adding a probe is one ``register`` call here, its view and its test.

No torch at import: the window reads the registry before torch has loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

# The share of wall time all probes together may take (engine/probes/schedule.py).
DEFAULT_BUDGET = 0.05


@dataclass(frozen=True)
class ModelTraits:
    """What decides which probes apply: conv layers over an image input, the ids of the
    recurrent blocks (in model order), the task and the shape of one input sample."""

    has_conv: bool
    recurrent: tuple[str, ...]
    task: str  # "classification" or "regression"
    input_shape: tuple[int, ...] = ()  # one sample's, without the batch axis


@dataclass(frozen=True)
class ProbeKind:
    kind: str  # stable id: what events, settings and tests call it
    interval: float  # seconds between two runs at the default rate
    when: Literal["backward", "step", "epoch"]  # backward: the real step's gradients are there
    looks_at_sample: bool  # runs again at once when the chosen sample changes
    applies: Callable[[ModelTraits], bool]
    views: tuple[str, ...]  # titles of the views that show it
    compute: Callable[[Any], object]  # context -> snapshot (see ProbeRunner for the context)
    # The canvas's cards draw it (as activation thumbnails) beside or instead of views.
    on_cards: bool = False

    @property
    def label(self) -> str:
        return self.kind.replace("_", " ")


class ProbeRegistry:
    """Probe kinds by id, in the order they were registered; an id twice is an error."""

    def __init__(self) -> None:
        self._kinds: dict[str, ProbeKind] = {}

    def register(self, entry: ProbeKind) -> ProbeKind:
        if entry.kind in self._kinds:
            raise ValueError(f"A probe called {entry.kind!r} is already registered.")
        if entry.when not in ("backward", "step", "epoch"):
            raise ValueError(f"Probe {entry.kind!r} has unknown timing {entry.when!r}.")
        self._kinds[entry.kind] = entry
        return entry

    def __getitem__(self, kind: str) -> ProbeKind:
        return self._kinds[kind]

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds

    def __iter__(self) -> Iterator[ProbeKind]:
        return iter(self._kinds.values())

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def applying_to(self, traits: ModelTraits) -> tuple[str, ...]:
        """The kinds that apply to a model with ``traits``, in registry order."""
        return tuple(k for k, entry in self._kinds.items() if entry.applies(traits))

    def for_view(self, title: str) -> tuple[str, ...]:
        """The kinds that the view called ``title`` shows."""
        return tuple(k for k, entry in self._kinds.items() if title in entry.views)


PROBES = ProbeRegistry()


def _always(_traits: ModelTraits) -> bool:
    return True


def _conv(traits: ModelTraits) -> bool:
    return traits.has_conv


def _recurrent(traits: ModelTraits) -> bool:
    return bool(traits.recurrent)


def _plane_classifier(traits: ModelTraits) -> bool:
    """A classifier of points in the plane: its decision regions can be drawn."""
    return traits.task == "classification" and traits.input_shape == (2,)


def _image_classifier(traits: ModelTraits) -> bool:
    return traits.task == "classification" and traits.has_conv


# The compute functions import the probe modules (and so torch) when they first run, in the
# training process; ``ctx`` is the running ProbeRunner (model, the chosen sample x_one/y_one,
# the validation arrays x_val/y_val, a batch x_batch, loss_fn, num_classes, traits).


def _layer_gradients(ctx):
    from engine.probes.layers import layer_gradient_norms

    return MappingProxyType(layer_gradient_norms(ctx.model))


def _filters(ctx):
    from engine.probes.layers import conv_filters

    return conv_filters(ctx.model)


def _feature_maps(ctx):
    from engine.probes.layers import feature_maps

    return feature_maps(ctx.model, ctx.x_one)


def _block_outputs(ctx):
    from engine.probes.outputs import block_outputs

    return block_outputs(ctx.model, ctx.x_one)


def _weight_histograms(ctx):
    from engine.probes.layers import weight_histograms

    return weight_histograms(ctx.model)


def _activation_histograms(ctx):
    from engine.probes.layers import activation_histograms

    return activation_histograms(ctx.model, ctx.x_batch)


def _gates(ctx):
    from engine.probes.recurrent import recurrent_trace

    return tuple(recurrent_trace(ctx.model, b, ctx.x_one) for b in ctx.traits.recurrent)


def _time_gradients(ctx):
    from engine.probes.time_gradient import recurrent_gradient_flow

    return tuple(
        recurrent_gradient_flow(ctx.model, b, ctx.x_one, ctx.loss_fn, ctx.y_one)
        for b in ctx.traits.recurrent
    )


def _classification_report(ctx):
    from engine.probes.layers import classification_report

    return classification_report(ctx.model, ctx.x_val, ctx.y_val, ctx.num_classes)


def _forecast_report(ctx):
    from engine.probes.layers import forecast_report

    return forecast_report(ctx.model, ctx.x_val, ctx.y_val)


def _decision_regions(ctx):
    from engine.probes.regions import decision_regions

    return decision_regions(ctx.model, ctx.x_val, ctx.y_val, ctx.num_classes)


def _saliency(ctx):
    from engine.probes.saliency import saliency_map

    return saliency_map(ctx.model, ctx.x_one, ctx.y_one)


# "Cheap" probes read weights or gradients already there; heavy ones run extra passes.
for _entry in (
    ProbeKind("layer_gradients", 0.5, "backward", False, _always, ("Gradient flow",),
              _layer_gradients),
    ProbeKind("filters", 0.5, "step", False, _conv, ("Filters",), _filters),
    ProbeKind("weight_histograms", 1.0, "step", False, _always, ("Histograms",),
              _weight_histograms),
    ProbeKind("feature_maps", 1.0, "step", True, _conv, ("Feature maps",), _feature_maps),
    # One forward pass of the one sample, at the feature maps' rate: the cards' thumbnails.
    ProbeKind("block_outputs", 1.0, "step", True, _always, (), _block_outputs, on_cards=True),
    ProbeKind("gates", 1.0, "step", True, _recurrent, ("Gates",), _gates),
    ProbeKind("time_gradients", 2.0, "step", True, _recurrent, ("Gradient flow",),
              _time_gradients),
    ProbeKind("activation_histograms", 2.0, "step", False, _always, ("Histograms",),
              _activation_histograms),
    ProbeKind("classification_report", 2.0, "epoch", False,
              lambda t: t.task == "classification", ("Confusion matrix", "Predictions"),
              _classification_report),
    ProbeKind("forecast_report", 2.0, "epoch", False,
              lambda t: t.task != "classification", ("Forecast",), _forecast_report),
    # One batched pass over a 100×100 grid of the input plane (and the validation points).
    ProbeKind("decision_regions", 1.0, "step", False, _plane_classifier, ("Decision regions",),
              _decision_regions),
    # One forward and one backward pass of the one sample, off the optimiser's gradients.
    ProbeKind("saliency", 1.0, "step", True, _image_classifier, ("Saliency",), _saliency),
):  # fmt: skip
    PROBES.register(_entry)

PROBE_KINDS = PROBES.kinds()
DEFAULT_INTERVALS = MappingProxyType({entry.kind: entry.interval for entry in PROBES})
