"""Probe snapshots to the views that show them, as the probe registry names them.

The routing knows no probe kind: the registry entry of a kind lists the titles of its views,
and each view takes the snapshots of its kinds through LiveView.take_snapshot. The probe
sample (SAMPLE_KIND) is not a registry probe: it is offered to every view, and those that
draw the sample beside their data take it. Kinds the registry marks ``on_cards`` also go to
``cards`` (the canvas's activation thumbnails).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from engine.probes.registry import PROBES
from engine.training.events import ProbeSnapshot
from gui.training.views import SAMPLE_KIND, LiveView


class ProbeRouter:
    """Hands each snapshot to its views; a snapshot that holds an error is shown in them."""

    def __init__(
        self,
        views: Mapping[str, LiveView],
        sample_refused: Callable[[str], None],
        cards: Callable[[ProbeSnapshot], None] | None = None,
    ):
        self.views = views
        self.cards = cards
        # The run could not show the chosen sample: said where the sample was chosen.
        self.sample_refused = sample_refused

    def views_for(self, kind: str) -> tuple[LiveView, ...]:
        if kind == SAMPLE_KIND:
            return tuple(self.views.values())
        if kind not in PROBES:
            return ()
        return tuple(self.views[title] for title in PROBES[kind].views)

    def route(self, snapshot: ProbeSnapshot) -> None:
        kind = snapshot.kind
        if self.cards is not None and kind in PROBES and PROBES[kind].on_cards:
            self.cards(snapshot)
        if kind == SAMPLE_KIND and snapshot.error:
            self.sample_refused(snapshot.error)
            return
        problem = None
        if snapshot.error or snapshot.data is None:
            problem = snapshot.error or f"The {kind} probe returned nothing."
        for view in self.views_for(kind):
            if problem is None:
                view.take_snapshot(snapshot)
            elif kind != SAMPLE_KIND:
                view.show_problem(problem)
