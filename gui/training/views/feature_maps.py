"""Feature maps: what each conv, activation and pooling layer outputs for one chosen sample.

All layers go into one image, one labelled row block per layer. Each layer is scaled by its own
level (so a layer with small activations is still visible), and smaller maps are enlarged by an
integer factor to the size of the largest, so pooling shows as the blockiness it really is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.probes.snapshots import FeatureMap
from gui.training.views.base import (
    SAMPLE_KIND,
    LiveView,
    write_csv,
)
from gui.training.views.plots import (
    PlotCanvas,
    configure_image_item,
    diverging_colormap,
    mosaic,
)

MAX_COLUMNS = 16  # maps per row when the view's size is not known yet
ROW_GAP = 3


def _enlarge(maps: np.ndarray, height: int) -> np.ndarray:
    factor = max(1, round(height / max(1, maps.shape[1])))
    if factor == 1:
        return maps
    return np.repeat(np.repeat(maps, factor, axis=1), factor, axis=2)


def fit_columns(counts: Sequence[int], tile: int, width: float, height: float) -> int:
    """Maps per row that make the whole grid as large as it can be in a width × height view.

    Every layer wraps at the same column count, so the rows line up; ``tile`` is the side of
    one (enlarged) map. Too many columns give a thin strip, too few a tall column: the best
    count is the one whose grid scales up the most.
    """
    if not counts or width <= 0 or height <= 0:
        return MAX_COLUMNS
    best, best_scale = 1, 0.0
    for columns in range(1, max(counts) + 1):
        grid_w = columns * (tile + 1)
        grid_h = sum(math.ceil(c / columns) * (tile + 1) for c in counts)
        grid_h += ROW_GAP * (len(counts) - 1)
        scale = min(width / grid_w, height / grid_h)
        if scale > best_scale:
            best, best_scale = columns, scale
    return best


def layer_blocks(
    layers: Sequence[tuple[str, np.ndarray, float]], columns: int = MAX_COLUMNS
) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Stack (label, maps (C, H, W), level) layers into one image scaled to [-1, 1], each
    layer wrapping after ``columns`` maps.

    Returns the image and (label, top row) per layer, for the row labels.
    """
    if not layers:
        return np.zeros((1, 1), np.float32), []
    height = max(m.shape[1] for _, m, _ in layers)
    blocks, tops, top = [], [], 0
    for label, maps, level in layers:
        scaled = _enlarge(np.asarray(maps, np.float32) / max(level, 1e-12), height)
        block = mosaic(scaled, columns)
        blocks.append(block)
        tops.append((label, top))
        top += block.shape[0] + ROW_GAP
    width = max(b.shape[1] for b in blocks)
    out = np.full((top - ROW_GAP, width), np.nan, np.float32)
    for block, (_, row) in zip(blocks, tops, strict=True):
        out[row : row + block.shape[0], : block.shape[1]] = block
    return out, tops


class FeatureMapView(LiveView):
    """Rows: the input, then each conv/activation/pool layer's maps for the chosen sample."""

    empty_text = "Train a model with Conv2d and pooling blocks to see its feature maps."
    how_to_read = (
        "The first row is the probe sample itself. Below it is one labelled row per conv, "
        "activation and pooling layer: what each filter responds to, and what pooling keeps. "
        "The maps are laid out in a grid that fills the view, with sharp pixels. Pooled maps "
        "are shown enlarged to the size of the maps above them, so the blocky 2×2 summary that "
        "max-pooling makes is visible. Blue is negative, white zero and red positive, each "
        "layer scaled to its own largest value."
    )

    focus_missing = (
        "no feature maps (only the conv, activation and pooling layers of the image part have them)"
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Feature maps", parent)
        self.maps: tuple[FeatureMap, ...] = ()
        self.only_layer: str | None = None  # the selected block: its maps alone, scaled up
        self.input_image: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.sample_text = "the probe sample"  # the sample is picked in the training panel
        self.row_labels: list[tuple[str, int]] = []
        self.columns = MAX_COLUMNS  # maps per row, as last painted (fit to the view's shape)
        self._ticks: list[tuple[float, str]] | None = None

        self.graphics = PlotCanvas()
        # A plot rather than a bare ViewBox: its left axis carries the row labels and sizes
        # itself to fit them, which TextItems placed in image coordinates cannot do.
        self.plot = self.graphics.addPlot()
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.hideAxis("bottom")
        self.plot.getAxis("left").setStyle(tickLength=0)
        self.plot.setMenuEnabled(False)
        self.item = configure_image_item(pg.ImageItem())
        self.item.setColorMap(diverging_colormap())
        self.plot.addItem(self.item)

        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)

    def forget(self) -> None:
        self.maps = ()
        self.input_image = None

    def image_fill(self) -> tuple[float, float]:
        """(width, height) of the drawn maps as fractions of the plot area: how well they fill it."""
        drawn, area = self.item.sceneBoundingRect(), self.plot.vb.sceneBoundingRect()
        if area.isEmpty():
            return 0.0, 0.0
        shown = drawn.intersected(area)
        return shown.width() / area.width(), shown.height() / area.height()

    def set_input(self, image: np.ndarray | None, description: str = "the probe sample") -> None:
        """The chosen sample itself (C, H, W), drawn as the first row."""
        self.input_image = None if image is None else np.asarray(image, np.float32)
        self.sample_text = description
        self.mark_dirty()

    def set_maps(self, maps: Sequence[FeatureMap]) -> None:
        self.maps = tuple(maps)
        if self.maps:
            self._got_data()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "feature_maps":
            self.set_maps(snapshot.data)
        elif snapshot.kind == SAMPLE_KIND:  # an image sample is the first row; others are not
            sample = snapshot.data
            if np.ndim(sample.x) == 3:
                self.set_input(sample.x, f"{sample.split} sample {sample.index}")
        else:
            super().take_snapshot(snapshot)

    def show_layer(self, block_id: str | None) -> bool:
        """The input and that layer's maps alone, filling the view; None: every layer again."""
        if block_id is not None and block_id not in self.layer_ids():
            return False
        self.only_layer = block_id
        return True

    def shown_layer(self) -> str:
        return self.only_layer or ""

    def layer_ids(self) -> tuple[str, ...]:
        return tuple(m.block_id for m in self.maps)

    def shown_maps(self) -> tuple[FeatureMap, ...]:
        """The layers drawn: the selected block's alone, or all of them."""
        only = [m for m in self.maps if m.block_id == self.only_layer]
        return tuple(only) or self.maps

    def rows(self) -> list[tuple[str, np.ndarray, float]]:
        rows = []
        if self.input_image is not None and self.input_image.ndim == 3:
            level = float(np.abs(self.input_image).max()) or 1.0
            rows.append(("input", self.input_image, level))
        for m in self.shown_maps():
            c, h, w = m.maps.shape
            # Two short lines: one long line made the label axis take a third of the view.
            rows.append((f"{m.block_id}\n{c}×{h}×{w}", m.maps, float(m.level)))
        return rows

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # Another shape wants another number of columns: repaint on the next tick.
        super().resizeEvent(event)
        if self.has_data:
            self.mark_dirty()

    def paint(self) -> None:
        rows = self.rows()
        tile = max((m.shape[1] for _, m, _ in rows), default=1)
        box = self.plot.vb.size()
        self.columns = fit_columns(
            [m.shape[0] for _, m, _ in rows], tile, box.width(), box.height()
        )
        self.image, self.row_labels = layer_blocks(rows, self.columns)
        self.item.setImage(self.image, levels=(-1.0, 1.0), autoLevels=False)
        # Each label sits at the middle of the first line of maps of its layer.
        height = max((m.shape[1] for _, m, _ in rows), default=1)
        ticks = [(top + height / 2, label) for label, top in self.row_labels]
        if ticks != self._ticks:  # setTicks redraws the axis: only when the rows change
            self._ticks = ticks
            self.plot.getAxis("left").setTicks([ticks, []])
        shown = self.shown_maps()
        if len(shown) < len(self.maps):
            self.caption.setText(
                f"{self.sample_text}: {shown[0].block_id} only (select no block for all "
                f"{len(self.maps)} layers)"
            )
        else:
            self.caption.setText(f"{self.sample_text}: {len(self.maps)} layers")

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        rows = []
        for m in self.maps:
            c, h, w = m.maps.shape
            idx = np.indices((c, h, w)).reshape(3, -1).T
            rows.extend(
                (m.block_id, *map(int, i), float(v))
                for i, v in zip(idx, m.maps.ravel(), strict=True)
            )
        write_csv(path, ["layer", "channel", "row", "col", "value"], rows)
