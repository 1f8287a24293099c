"""Activation thumbnails: a block's output for the probe sample as a small image on its card,
as TensorFlow Playground draws them on its network diagram.

Drawn from the numpy arrays of a BlockOutput snapshot (no torch): an image stack as a mosaic of
its channels (or their mean when there are many), a sequence as a time × feature heatmap, a
vector as a heat row that wraps. Blue-white-red around zero, as the views draw weights and
maps, scaled to the block's own largest value; pixels stay sharp when scaled up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QImage

from engine.probes.snapshots import BlockOutput

MAX_TILES = 8  # channels drawn one by one; more are drawn as their mean (a readable size)
ROW_WRAP = 32  # a vector longer than this wraps into rows, so each unit stays a visible cell
_GAP = np.nan  # between tiles: drawn in the card's background colour

# The views' diverging map (gui/training/views/plots.py), here without pyqtgraph: blue, white
# and red at -level, 0 and +level (ColorBrewer's RdBu ends, told apart with colour-blindness).
_STOPS = np.array([(33, 102, 172), (247, 247, 247), (178, 24, 43)], np.float64)
_LUT = np.stack(
    [np.interp(np.linspace(0.0, 1.0, 256), [0.0, 0.5, 1.0], _STOPS[:, c]) for c in range(3)],
    axis=1,
).astype(np.uint8)
_BACKGROUND = (241, 245, 249)


@dataclass(frozen=True)
class Thumbnail:
    """The image a card draws, its cells as values in [-1, 1] (NaN: a gap), and what it shows."""

    image: QImage
    cells: np.ndarray
    text: str


def _mosaic(maps: np.ndarray) -> np.ndarray:
    count, h, w = maps.shape
    columns = min(count, 4)
    rows = math.ceil(count / columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), _GAP, np.float32)
    for i, tile in enumerate(maps):
        r, c = divmod(i, columns)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tile
    return out


def thumbnail_cells(values: np.ndarray) -> tuple[np.ndarray, str]:
    """A block's output (batch axis dropped) as a 2-D array to draw, and a phrase saying what
    it is. The values are not yet scaled; a channel mean is (to its own largest value: the
    mean of many channels is much fainter than any one of them)."""
    values = np.asarray(values, np.float32)
    if values.ndim == 3:
        channels = values.shape[0]
        if channels <= MAX_TILES:
            return _mosaic(values), f"{channels} channel{'s' if channels != 1 else ''}"
        mean = values.mean(axis=0)
        peak = float(np.nanmax(np.abs(mean))) if mean.size else 0.0
        return mean / (peak or 1.0), f"the mean of its {channels} channels"
    if values.ndim == 2:  # (T, features): time left to right, as in the Gates view
        return np.ascontiguousarray(values.T), f"{values.shape[0]} steps × {values.shape[1]}"
    flat = values.reshape(-1)
    if flat.size <= ROW_WRAP:
        return flat[None, :], f"{flat.size} values"
    rows = math.ceil(flat.size / ROW_WRAP)
    out = np.full(rows * ROW_WRAP, _GAP, np.float32)
    out[: flat.size] = flat
    return out.reshape(rows, ROW_WRAP), f"{flat.size} values, {ROW_WRAP} a row"


def make_thumbnail(output: BlockOutput) -> Thumbnail:
    """The card image of one block's output, scaled to ±its level (zero is white)."""
    cells, what = thumbnail_cells(output.values)
    own_scale = output.values.ndim == 3 and len(output.values) > MAX_TILES  # a channel mean
    level = 1.0 if own_scale else float(output.level)
    scaled = np.clip(cells / max(float(level), 1e-12), -1.0, 1.0)
    gaps = ~np.isfinite(scaled)
    index = np.round((np.nan_to_num(scaled) + 1.0) * 127.5).astype(np.uint8)
    rgb = _LUT[index]
    rgb[gaps] = _BACKGROUND
    rgb = np.ascontiguousarray(rgb)
    h, w = cells.shape
    # QImage does not copy the buffer: copy() detaches it before the array goes away.
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    scale = "scaled to its largest value" if own_scale else f"colour ±{level:.3g}"
    text = f"Output for the probe sample: {what}, {scale}"
    return Thumbnail(image, np.where(gaps, np.nan, scaled).astype(np.float32), text)
