"""Convolution filters: every kernel of one conv layer as tiles of a single mosaic image.

The colour scale is symmetric (zero is white) and fixed per layer for the run: it starts at the
first snapshot's level and only ever widens, so a kernel that sharpens while training visibly
darkens instead of being re-normalised to the same picture every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.probes.snapshots import FilterSet
from gui.training.views.base import (
    LiveView,
    write_csv,
)
from gui.training.views.plots import (
    PlotCanvas,
    configure_image_item,
    diverging_colormap,
    image_view_box,
    mosaic,
    square_columns,
)


def filter_mosaic(weights: np.ndarray) -> np.ndarray:
    """(out, in, kh, kw) kernels as one image.

    One input channel: the `out` kernels in a near-square grid. Several: one row per output
    filter, one column per input channel, so a row reads as "what this filter looks for".
    """
    out, inp, kh, kw = weights.shape
    if inp == 1:
        return mosaic(weights[:, 0], square_columns(out))
    return mosaic(weights.reshape(out * inp, kh, kw), inp)


class FilterGridView(LiveView):
    empty_text = "Train a model with a Conv2d block to see its filters."
    how_to_read = (
        "These are the kernels of one Conv2d layer (pick it in Layer). Each tile is one kernel;"
        " with several input channels each row is one filter and each column one input channel."
        " The colour scale is symmetric around zero (blue negative, white zero, red positive) "
        "and fixed for the run: it only ever widens. Filters that start as noise and turn into "
        "edge and stroke detectors therefore really do change colour; they are not re-"
        "normalised to look the same at every update."
    )

    focus_missing = "no filters (only Conv2d blocks have them)"

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Filters", parent)
        self._sets: dict[str, FilterSet] = {}
        self._levels: dict[str, float] = {}
        self.image: np.ndarray | None = None

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Which conv layer's kernels to show")
        self.layer_combo.currentTextChanged.connect(lambda _t: self.mark_dirty())
        self.info = QLabel("")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_combo)
        controls.addWidget(self.info, 1)

        self.graphics = PlotCanvas()
        self.box = image_view_box(self.graphics)
        self.item = configure_image_item(pg.ImageItem())
        self.item.setColorMap(diverging_colormap())
        self.box.addItem(self.item)
        self.colour_bar = pg.ColorBarItem(
            values=(-1, 1), colorMap=diverging_colormap(), interactive=False, width=12
        )
        self.graphics.addItem(self.colour_bar, row=0, col=1)

        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)

    def forget(self) -> None:
        """Levels are per run: a fresh model starts from a fresh scale."""
        self._levels.clear()
        self._sets.clear()
        self.layer_combo.clear()

    def set_filters(self, sets: Sequence[FilterSet]) -> None:
        for s in sets:
            self._sets[s.block_id] = s
            self._levels[s.block_id] = max(self._levels.get(s.block_id, 0.0), float(s.level))
        names = [s.block_id for s in sets]
        if names != [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())]:
            current = self.layer_combo.currentText()
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(names)
            if current in names:
                self.layer_combo.setCurrentText(current)
            self.layer_combo.blockSignals(False)
        if sets:
            self._got_data()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "filters":
            self.set_filters(snapshot.data)
        else:
            super().take_snapshot(snapshot)

    def show_layer(self, block_id: str | None) -> bool:
        """That conv layer's kernels, picked in Layer as if the user had."""
        if block_id not in self._sets:
            return False
        self.layer_combo.setCurrentText(block_id)
        return True

    def shown_layer(self) -> str:
        return self.layer_combo.currentText()

    @property
    def current(self) -> FilterSet | None:
        return self._sets.get(self.layer_combo.currentText())

    def level(self, block_id: str) -> float:
        return self._levels.get(block_id, 1.0)

    def paint(self) -> None:
        current = self.current
        if current is None:
            return
        level = self.level(current.block_id)
        self.image = filter_mosaic(np.asarray(current.weights, dtype=np.float32))
        self.item.setImage(self.image, levels=(-level, level), autoLevels=False)
        if self.colour_bar.levels() != (-level, level):  # redraws the bar's axis: on change
            self.colour_bar.setLevels((-level, level))
        out, inp, kh, kw = current.weights.shape
        self.info.setText(f"{out} filters × {inp} input channels, {kh}×{kw}; colour ±{level:.3g}")

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        current = self.current
        if current is None:
            write_csv(path, ["layer", "out", "in", "row", "col", "weight"], [])
            return
        w = np.asarray(current.weights)
        idx = np.indices(w.shape).reshape(4, -1).T
        rows = [
            (current.block_id, *map(int, i), float(v)) for i, v in zip(idx, w.ravel(), strict=True)
        ]
        write_csv(path, ["layer", "out", "in", "row", "col", "weight"], rows)
