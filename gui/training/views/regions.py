"""Decision regions: the class a 2-input classifier picks at every point of the input plane,
behind the validation points (TensorFlow Playground's picture, for the user's own model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.probes.snapshots import DecisionRegions
from gui.training.views.base import PALETTE, LiveView, write_csv
from gui.training.views.plots import PlotCanvas, configure_image_item, legend_above

# How much of the class colour a cell gets: FAINT where the model is no surer than chance,
# FULL where it is certain. Never the full colour, so the points (full colour) stand out.
FAINT, FULL = 0.08, 0.6
WRONG_SYMBOL = "x"


def class_colours(count: int) -> np.ndarray:
    """(count, 3) uint8 RGB: the project's colour-blind safe palette, repeated past its end."""
    rgb = [QColor(PALETTE[i % len(PALETTE)]).getRgb()[:3] for i in range(count)]
    return np.array(rgb, np.uint8).reshape(count, 3)


def region_image(predicted: np.ndarray, probability: np.ndarray, num_classes: int) -> np.ndarray:
    """(H, W, 3) uint8: each cell the colour of its class, blended with white by how sure the
    model is (chance 1/K: faint; certain: strong)."""
    k = max(num_classes, 2)
    sure = np.clip((probability - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    weight = (FAINT + (FULL - FAINT) * sure)[..., None]
    colours = class_colours(k)[np.clip(predicted, 0, k - 1)].astype(np.float32)
    return (255.0 + weight * (colours - 255.0)).round().astype(np.uint8)


class DecisionRegionView(LiveView):
    """The input plane coloured by the predicted class, lighter where the model is unsure, with
    the validation points in their true class's colour; wrongly predicted points are crosses."""

    empty_text = (
        "Decision regions need a classifier with 2 inputs (the moons, spirals or circles data, "
        "or a CSV with two feature columns). Train one to see the classes it draws over the "
        "plane."
    )
    how_to_read = (
        "The background is the input plane, in the data's own units: each point of it is "
        "coloured by the class the model predicts there, strong where it is sure and pale where "
        "it is unsure (near chance). The borders between the colours are the decision "
        "boundaries the classifier has learned, and the pale bands along them are where it "
        "hesitates. The dots are validation samples in the colour of their true class; a cross "
        "is one the model gets wrong. Watch the boundaries bend to fit the data as it trains: "
        "a model without hidden layers can only draw straight boundaries, while hidden layers "
        "with a nonlinearity (tanh, ReLU) can curve them round the moons or spirals."
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Decision regions", parent)
        self.regions: DecisionRegions | None = None
        self.class_names: tuple[str, ...] = ()
        self.image: np.ndarray | None = None
        self._legend_state: tuple | None = None
        self.graphics = PlotCanvas()
        self.plot = self.graphics.addPlot(row=1, col=0)
        self.legend = legend_above(self.graphics, self.plot, row=0, columns=4)
        self.plot.setLabel("bottom", "input 1")
        self.plot.setLabel("left", "input 2")
        self.plot.setMenuEnabled(False)
        self.item = configure_image_item(pg.ImageItem())
        self.plot.addItem(self.item)
        self.scatter = pg.ScatterPlotItem(size=7)
        self.plot.addItem(self.scatter)
        # One brush per class and one pen, made once: pyqtgraph keeps a rendered symbol per
        # distinct (symbol, size, pen, brush), and a new brush object for every point missed
        # it each time, re-rendering 500 symbols a paint (25 ms of the GUI thread's frame).
        self._pen = pg.mkPen("#222", width=0.8)
        self._brushes: list = []
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)

    def set_class_names(self, names: Sequence[str] | None) -> None:
        self.class_names = tuple(names or ())
        self.mark_dirty()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "decision_regions":
            self.regions = snapshot.data
            self._got_data()
        else:
            super().take_snapshot(snapshot)

    def forget(self) -> None:
        self.regions = None

    def _name(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def paint(self) -> None:
        r = self.regions
        if r is None:
            return
        self.image = region_image(np.asarray(r.predicted), np.asarray(r.probability), r.num_classes)
        self.item.setImage(self.image, autoLevels=False, levels=(0, 255))
        # Cell centres are the grid's coordinates: the image reaches half a cell past them.
        dx = (r.xs[-1] - r.xs[0]) / max(len(r.xs) - 1, 1)
        dy = (r.ys[-1] - r.ys[0]) / max(len(r.ys) - 1, 1)
        rect = QRectF(
            float(r.xs[0] - dx / 2), float(r.ys[0] - dy / 2),
            float(dx * len(r.xs)), float(dy * len(r.ys)),
        )  # fmt: skip
        self.item.setRect(rect)
        self.plot.getViewBox().setRange(rect=rect, padding=0)
        count = max(r.num_classes, 2)
        if len(self._brushes) != count:
            self._brushes = [pg.mkBrush(*colour) for colour in class_colours(count)]
        labels = np.asarray(r.labels)
        wrong = np.asarray(r.point_predicted) != labels
        brushes = [self._brushes[int(c) % count] for c in labels]
        self.scatter.setData(
            r.points[:, 0], r.points[:, 1], brush=brushes,
            symbol=np.where(wrong, WRONG_SYMBOL, "o").tolist(), pen=self._pen,
            size=np.where(wrong, 11, 7),
        )  # fmt: skip
        self._paint_legend(r.num_classes)
        accuracy = 1.0 - wrong.mean() if len(wrong) else 0.0
        self.caption.setText(
            f"{len(r.xs)}×{len(r.ys)} grid; {len(labels)} validation points, {int(wrong.sum())} "
            f"wrong (×), accuracy {accuracy:.1%}"
        )

    def _paint_legend(self, num_classes: int) -> None:
        state = (num_classes, self.class_names)
        if state == self._legend_state:  # the legend re-lays out on every change: only then
            return
        self._legend_state = state
        self.legend.clear()
        colours = class_colours(max(num_classes, 2))
        for c in range(num_classes):
            sample = pg.ScatterPlotItem(brush=pg.mkBrush(*colours[c]), pen=pg.mkPen("#222"))
            self.legend.addItem(sample, self._name(c))
        wrong = pg.ScatterPlotItem(symbol=WRONG_SYMBOL, brush=pg.mkBrush("#888"), pen="#222")
        self.legend.addItem(wrong, "predicted wrong")

    def legend_labels(self) -> list[str]:
        """The legend's entries, as last painted."""
        return [label.text for _sample, label in self.legend.items]

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        rows = []
        if self.regions is not None:
            r = self.regions
            for i, y in enumerate(r.ys):
                for j, x in enumerate(r.xs):
                    rows.append((float(x), float(y), int(r.predicted[i, j]),
                                 float(r.probability[i, j])))  # fmt: skip
        write_csv(path, ["input 1", "input 2", "predicted", "probability"], rows)
