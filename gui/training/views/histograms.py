"""Histograms of one layer's weights (top) and activations (bottom), layer chosen by a picker.

Weights that spread out or collapse to zero, and activations that saturate (a tanh layer piled
up at ±1) or die (a ReLU layer piled up at 0), show here before they show in the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.probes.snapshots import Histogram
from gui.training.views.base import (
    PALETTE,
    LiveView,
    StickyRange,
    bounds_of,
    write_csv,
)
from gui.training.views.plots import (
    PlotCanvas,
    show_grid,
)

KINDS = ("weights", "activations")


# The probe kinds this view shows, and which of its KINDS each one fills.
_SNAPSHOT_KINDS = {"weight_histograms": "weights", "activation_histograms": "activations"}


class HistogramView(LiveView):
    empty_text = "Train a model to see the distribution of each layer's weights and activations."
    how_to_read = (
        "These show the weights (top) and activations (bottom) of one layer. Weights that "
        "collapse to zero or spread out without limit, tanh/sigmoid activations piled up at "
        "their limits (saturation), or ReLU activations piled up at 0 (dead units) show here "
        "before they show in the loss. The title counts any NaN or infinite values."
    )

    focus_missing = "no histograms yet (the next snapshot may bring them)"

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Histograms", parent)
        self.histograms: dict[str, dict[str, Histogram]] = {kind: {} for kind in KINDS}

        self.layer_combo = QComboBox()
        self.layer_combo.currentTextChanged.connect(self._layer_changed)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_combo)
        controls.addStretch(1)

        self.graphics = PlotCanvas()
        self.plots: dict[str, pg.PlotItem] = {}
        self.ranges: dict[str, StickyRange] = {}
        self._titles: dict[str, str] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for row, kind in enumerate(KINDS):
            plot = self.graphics.addPlot(row=row, col=0, title=kind)
            plot.setLabel("left", "count")
            show_grid(plot, 0.2)
            colour = PALETTE[row]
            # stepMode "center": len(edges) == len(counts) + 1, drawn as bars without gaps.
            curve = plot.plot(
                [0.0, 1.0], [0.0], stepMode="center", fillLevel=0,
                brush=pg.mkBrush(colour + "90"), pen=pg.mkPen(colour, width=1),
            )  # fmt: skip
            self.plots[kind], self.curves[kind] = plot, curve
            # Bins move every snapshot; a range that moves in steps keeps the axes cached.
            self.ranges[kind] = StickyRange(plot, x_headroom=0.0)

        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)

    def set_histograms(self, kind: str, histograms: Sequence[Histogram]) -> None:
        """kind is "weights" or "activations"; each histogram belongs to one block."""
        if kind not in KINDS:
            raise ValueError(f"histogram kind must be one of {KINDS}, not {kind!r}")
        for h in histograms:
            self.histograms[kind][h.block_id] = h
            if self.layer_combo.findText(h.block_id) < 0:
                self.layer_combo.addItem(h.block_id)
        if histograms:
            self._got_data()

    def take_snapshot(self, snapshot) -> None:
        kind = _SNAPSHOT_KINDS.get(snapshot.kind)
        if kind is not None:
            self.set_histograms(kind, snapshot.data)
        else:
            super().take_snapshot(snapshot)

    def show_layer(self, block_id: str | None) -> bool:
        """That block's weights and activations, picked in Layer as if the user had."""
        if block_id is None or self.layer_combo.findText(block_id) < 0:
            return False
        self.layer_combo.setCurrentText(block_id)
        return True

    def shown_layer(self) -> str:
        return self.layer_combo.currentText()

    def forget(self) -> None:
        for kind in KINDS:
            self.histograms[kind].clear()
        self.layer_combo.clear()

    def paint(self) -> None:
        layer = self.layer_combo.currentText()
        notes = []
        for kind in KINDS:
            h = self.histograms[kind].get(layer)
            if h is None:
                self.curves[kind].setData([0.0, 1.0], [0.0])
                self._set_title(kind, f"{kind}: none for {layer}")
                continue
            edges, counts = np.asarray(h.edges, np.float64), np.asarray(h.counts, np.float64)
            self.curves[kind].setData(edges, counts)
            self.ranges[kind].update(bounds_of(edges), bounds_of(counts, (0.0,)))
            title = f"{kind} of {layer}"
            if h.non_finite:
                title += f" — {h.non_finite} NaN/inf values"
                notes.append(f"{kind}: {h.non_finite} non-finite")
            self._set_title(kind, title)
        self.caption.setText("; ".join(notes))

    def _layer_changed(self, _layer: str) -> None:
        for sticky in self.ranges.values():  # another layer: fit its values afresh
            sticky.reset()
        self.mark_dirty()

    def _set_title(self, kind: str, title: str) -> None:
        # setTitle re-lays the plot out (~1-2 ms): only when the text changes.
        if self._titles.get(kind) != title:
            self._titles[kind] = title
            self.plots[kind].setTitle(title)

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        rows = []
        for kind in KINDS:
            for layer, h in self.histograms[kind].items():
                for i, count in enumerate(h.counts):
                    rows.append((kind, layer, float(h.edges[i]), float(h.edges[i + 1]), int(count)))
        write_csv(path, ["kind", "layer", "bin_start", "bin_end", "count"], rows)
