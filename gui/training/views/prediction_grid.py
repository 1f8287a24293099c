"""Predictions: validation images in a grid, each with its predicted class, framed and marked
right or wrong; for 2-D inputs a scatter plot coloured by the predicted class."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.probes.snapshots import ClassificationReport
from gui.training.views.base import PALETTE, write_csv
from gui.training.views.plots import PlotCanvas, cached, configure_image_item, image_view_box
from gui.training.views.predictions import ReportView

_LABEL_FONT = QFont()
_LABEL_FONT.setPointSize(8)
GRID_COLUMNS, GRID_ROWS = 10, 5
BORDER = 2
# Okabe-Ito blue and orange: told apart with every common colour-vision deficiency (green and
# red are not), and the labels say ✓ or ✗ besides.
RIGHT_FRAME, WRONG_FRAME = np.array([0, 114, 178], np.uint8), np.array([230, 159, 0], np.uint8)
RIGHT_TEXT, WRONG_TEXT = "#00466e", "#a34400"


def label_band(h: int) -> int:
    """Rows of white under each framed sample, where its label (two short lines) is drawn."""
    return max(8, round(0.8 * h))


def cell_size(h: int, w: int) -> tuple[int, int]:
    """(height, width) of one sample's cell: framed image, label band, one pixel of gap."""
    return h + 2 * BORDER + label_band(h) + 1, w + 2 * BORDER + 1


def prediction_mosaic(images: np.ndarray, correct: np.ndarray, columns: int) -> np.ndarray:
    """(N, C, H, W) images as an RGB uint8 grid, each framed blue (right) or orange (wrong),
    with a white band under each for its label."""
    n, c, h, w = images.shape
    rows = max(1, math.ceil(n / columns))
    th, tw = h + 2 * BORDER, w + 2 * BORDER
    cell_h, cell_w = cell_size(h, w)
    out = np.full((rows * cell_h, columns * cell_w, 3), 255, np.uint8)
    lo, hi = float(images.min()), float(images.max())
    scaled = ((images - lo) / (hi - lo or 1.0) * 255).clip(0, 255).astype(np.uint8)
    rgb = np.repeat(scaled, 3, axis=1) if c == 1 else scaled[:, :3]
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = r * cell_h, col * cell_w
        out[y : y + th, x : x + tw] = RIGHT_FRAME if correct[i] else WRONG_FRAME
        out[y + BORDER : y + BORDER + h, x + BORDER : x + BORDER + w] = rgb[i].transpose(1, 2, 0)
    return out


class PredictionGridView(ReportView):
    """Validation images with the predicted class under each; ✓ and a blue frame when right,
    ✗, the true class and an orange frame when wrong."""

    report_kind = "classification_report"
    empty_text = "Train a classifier to see its predictions on validation samples."
    how_to_read = (
        "Under each validation image is its predicted class: ✓ and a blue frame when right; ✗, "
        "the true class and an orange frame when wrong. In a view too small for the text only "
        "the frames show; enlarge it (or float it) to read the classes. For 2-D inputs (moons, "
        "spirals, circles) the view is a scatter plot instead, coloured by the predicted class,"
        " with wrong points as crosses."
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Predictions", parent)
        self.report: ClassificationReport | None = None
        self.samples: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.class_names: tuple[str, ...] = ()
        self.shown = 0
        self.labels_fit = True  # whether the classes under the samples can be shown (and are)
        self.graphics = PlotCanvas()
        self.box = image_view_box(self.graphics)
        self.item = configure_image_item(pg.ImageItem())
        self.box.addItem(self.item)
        self.scatter_plot = pg.PlotItem()  # for 2-D vector inputs (moons, spirals, ...)
        self.scatter = pg.ScatterPlotItem(size=7)
        self.scatter_plot.addItem(self.scatter)
        self._texts: list[pg.TextItem] = []
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)

    def set_samples(
        self, x_val: np.ndarray | None, y_val: np.ndarray | None, class_names: Sequence[str] | None
    ) -> None:
        """The validation inputs the reports refer to (the first N of them are drawn)."""
        self.samples = None if x_val is None else np.asarray(x_val[: GRID_COLUMNS * GRID_ROWS * 20])
        self.labels = None if y_val is None else np.asarray(y_val)
        self.class_names = tuple(class_names or ())
        self.mark_dirty()

    def paint(self) -> None:
        if self.report is None or self.samples is None:
            self.caption.setText("No validation samples to show.")
            return
        correct = np.asarray(self.report.correct)
        if self.samples.ndim == 4:
            self._paint_images(correct)
        elif self.samples.ndim == 2 and self.samples.shape[1] >= 2:
            self._paint_scatter(correct)
        else:
            self.caption.setText("The grid draws image and 2-D inputs; see the confusion matrix.")
            return
        wrong = int((~correct[: self.shown]).sum())
        text = f"{self.shown} validation samples, {wrong} wrong (✗, orange)"
        if self.samples.ndim == 4 and not self.labels_fit:
            text += "; enlarge the view to read the classes"
        self.caption.setText(text)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # Whether the labels fit depends on the size: repaint on the next tick.
        super().resizeEvent(event)
        if self.has_data:
            self.mark_dirty()

    def _paint_images(self, correct: np.ndarray) -> None:
        n = min(GRID_COLUMNS * GRID_ROWS, len(self.samples), len(correct))
        self.shown = n
        self.item.setImage(
            prediction_mosaic(self.samples[:n], correct[:n], GRID_COLUMNS),
            levels=(0, 255),
            autoLevels=False,
        )
        _, _, h, w = self.samples.shape
        cell_h, cell_w = cell_size(h, w)
        self.labels_fit = self._labels_fit(h, w, lines=1 if correct[:n].all() else 2)
        while len(self._texts) < n:
            text = cached(pg.TextItem(anchor=(0.5, 0)))
            text.setFont(_LABEL_FONT)
            self.box.addItem(text)
            self._texts.append(text)
        for i, text in enumerate(self._texts):
            text.setVisible(i < n and self.labels_fit)
            if i < n:
                r, c = divmod(i, GRID_COLUMNS)
                label, colour = self._label(i, bool(correct[i]))
                state = (label, c, r, h, w)
                if getattr(text, "_shown", None) != state:  # only the changed predictions
                    text._shown = state
                    text.setText(label, colour)
                    # Centred in the band under the framed image.
                    text.setPos(c * cell_w + (w + 2 * BORDER) / 2, r * cell_h + h + 2 * BORDER)

    def _labels_fit(self, h: int, w: int, lines: int) -> bool:
        """Whether the label band, at the size the grid is drawn, holds ``lines`` of text.

        Labels are text of a fixed size over an image that scales with the view: in a small
        view they would cover the samples, so they are hidden there and the frames remain.
        """
        cell_h, cell_w = cell_size(h, w)
        rows = max(1, math.ceil(self.shown / GRID_COLUMNS))
        box = self.box.size()
        scale = min(box.width() / (GRID_COLUMNS * cell_w), box.height() / (rows * cell_h))
        return label_band(h) * scale >= lines * QFontMetrics(_LABEL_FONT).height()

    def _label(self, index: int, correct: bool) -> tuple[str, str]:
        """ "✓ 7" when right; "✗ 1" over "true 7" when wrong (on one line the labels of
        neighbouring samples ran into each other), with the label's colour."""
        predicted = self._name(int(self.report.predictions[index]))
        if correct:
            return f"✓ {predicted}", RIGHT_TEXT
        truth = self.labels[index] if self.labels is not None and index < len(self.labels) else None
        true_text = "" if truth is None else f"\ntrue {self._name(int(truth))}"
        return f"✗ {predicted}{true_text}", WRONG_TEXT

    def sample_labels(self) -> list[str]:
        """The labels under the samples, as last painted, in grid order."""
        return [t.toPlainText() for t in self._texts if t.isVisible()]

    def _paint_scatter(self, correct: np.ndarray) -> None:
        if self.scatter_plot.scene() is None:
            self.graphics.removeItem(self.box)
            self.graphics.addItem(self.scatter_plot)
        n = min(len(self.samples), len(correct))
        self.shown = n
        predicted = np.asarray(self.report.predictions)[:n]
        brushes = [pg.mkBrush(PALETTE[int(p) % len(PALETTE)]) for p in predicted]
        symbols = ["o" if ok else "x" for ok in correct[:n]]
        self.scatter.setData(
            self.samples[:n, 0], self.samples[:n, 1], brush=brushes, symbol=symbols, pen=None
        )

    def _name(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        rows = []
        if self.report is not None:
            truth = (
                self.labels if self.labels is not None else np.full(len(self.report.correct), -1)
            )
            for i, (p, ok, conf) in enumerate(
                zip(
                    self.report.predictions,
                    self.report.correct,
                    self.report.confidence,
                    strict=True,
                )
            ):
                rows.append(
                    (i, int(truth[i]) if i < len(truth) else -1, int(p), bool(ok), float(conf))
                )
        write_csv(path, ["sample", "true", "predicted", "correct", "confidence"], rows)
