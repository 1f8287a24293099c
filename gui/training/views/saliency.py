"""Saliency and Grad-CAM: where in the probe sample an image classifier's predicted class finds
its evidence, pixel by pixel and in its last conv layer's maps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.probes.snapshots import SaliencyMap
from gui.training.views.base import SAMPLE_KIND, LiveView, write_csv
from gui.training.views.plots import PlotCanvas, configure_image_item

# The heat's opacity where Grad-CAM is 1; it fades with the map, so places without evidence
# show the sample itself rather than the colour map's black.
CAM_OPACITY = 0.7
PANELS = ("sample", "saliency", "Grad-CAM")


def heat_colormap() -> pg.ColorMap:
    """Dark to bright (inferno): perceptually uniform and readable without colour vision."""
    return pg.colormap.get("inferno")


def cam_overlay(grey: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """(H, W, 3) float 0..1: the sample (grey or RGB) with the heat colour of ``cam`` laid over
    it, more opaque where the map is larger."""
    heat = heat_colormap().map(np.asarray(cam, np.float32).ravel(), mode="float")[:, :3]
    heat = heat.reshape(*cam.shape, 3)
    alpha = (CAM_OPACITY * np.clip(cam, 0.0, 1.0))[..., None]
    base = grey if grey.ndim == 3 else np.repeat(grey[..., None], 3, axis=2)
    return ((1.0 - alpha) * base + alpha * heat).astype(np.float32)


def display_image(image: np.ndarray) -> np.ndarray:
    """(C, H, W) as (H, W) grey or (H, W, 3) RGB, scaled to 0..1 by its own range."""
    image = np.asarray(image, np.float32)
    shown = image.transpose(1, 2, 0) if image.shape[0] == 3 else image.mean(axis=0)
    lo, hi = float(shown.min()), float(shown.max())
    return (shown - lo) / (hi - lo or 1.0)


class SaliencyView(LiveView):
    """The probe sample, its saliency map and its Grad-CAM overlay side by side."""

    empty_text = (
        "Saliency and Grad-CAM need an image classifier with a Conv2d block (the digits or "
        "shapes CNN). Train one to see where it looks in the probe sample."
    )
    how_to_read = (
        "Left is the probe sample (choose it in the training panel); the caption gives the "
        "class the model predicts, how sure it is, and the true class.\n"
        "• Saliency (middle): which pixels the predicted class's score is most sensitive to. "
        "It is the size of the score's gradient with respect to each input pixel (the largest "
        "over colour channels), scaled so that the most sensitive pixel is 1: bright pixels are "
        "those where a small change would move the score most.\n"
        "• Grad-CAM (right, over the sample): where the last conv layer's evidence for the "
        "class lies. Each of that layer's maps is weighted by the average gradient of the class "
        "score with respect to it; the weighted maps are summed, negative values are cut to "
        "zero, and the result is enlarged to the image's size. It is coarser than saliency (the "
        "last conv layer's resolution) but says where the features the class relies on were "
        "found. Early in training both maps are noise; as the model learns they settle on the "
        "strokes and shapes that tell the classes apart."
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Saliency", parent)
        self.result: SaliencyMap | None = None
        self.class_names: tuple[str, ...] = ()
        self.sample_text = "the probe sample"
        self.graphics = PlotCanvas()
        self.plots: dict[str, pg.PlotItem] = {}
        for col, name in enumerate(PANELS):
            plot = self.graphics.addPlot(row=0, col=col, title=name)
            plot.invertY(True)
            plot.setAspectLocked(True)
            plot.hideAxis("left")
            plot.hideAxis("bottom")
            plot.setMenuEnabled(False)
            self.plots[name] = plot
            # The three pictures the same size (left to their titles' widths, "Grad-CAM
            # (conv2)" took a third more); the colour bar only as wide as it needs.
            self.graphics.ci.layout.setColumnStretchFactor(col, 1)
            plot.setPreferredWidth(100)
        self.sample_item = self._image("sample")
        self.saliency_item = self._image("saliency", heat_colormap())
        self.cam_item = self._image("Grad-CAM")
        # Both maps run from 0 to 1 in the same colours: one bar, which never changes.
        self.colour_bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=heat_colormap(), interactive=False, width=10
        )
        self.graphics.addItem(self.colour_bar, row=0, col=len(PANELS))
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)

    def _image(self, panel: str, colormap: pg.ColorMap | None = None) -> pg.ImageItem:
        item = configure_image_item(pg.ImageItem())
        if colormap is not None:
            item.setColorMap(colormap)
        self.plots[panel].addItem(item)
        return item

    def set_class_names(self, names: Sequence[str] | None) -> None:
        self.class_names = tuple(names or ())
        self.mark_dirty()

    def take_snapshot(self, snapshot) -> None:
        if snapshot.kind == "saliency":
            self.result = snapshot.data
            self._got_data()
        elif snapshot.kind == SAMPLE_KIND:
            self.sample_text = f"{snapshot.data.split} sample {snapshot.data.index}"
            self.mark_dirty()
        else:
            super().take_snapshot(snapshot)

    def forget(self) -> None:
        self.result = None

    def _name(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def verdict(self) -> str:
        """What the model says about the sample: the predicted class, and the true one."""
        r = self.result
        if r is None:
            return ""
        text = f"predicted {self._name(r.predicted)} ({r.probability:.0%})"
        if r.label >= 0:
            mark = "✓" if r.label == r.predicted else "✗"
            text += f", true {self._name(r.label)} {mark}"
        return text

    def paint(self) -> None:
        r = self.result
        if r is None:
            return
        shown = display_image(r.image)
        self.sample_item.setImage(shown, levels=(0.0, 1.0), autoLevels=False)
        self.saliency_item.setImage(
            np.asarray(r.saliency, np.float32), levels=(0.0, 1.0), autoLevels=False
        )
        self.cam_item.setImage(
            cam_overlay(shown, np.asarray(r.grad_cam)), levels=(0.0, 1.0), autoLevels=False
        )
        self.plots["Grad-CAM"].setTitle(f"Grad-CAM ({r.cam_layer})")
        self.caption.setText(f"{self.sample_text}: {self.verdict()}")

    def export_item(self):
        return self.graphics.scene()

    def export_csv(self, path: str | Path) -> None:
        rows = []
        if self.result is not None:
            h, w = self.result.saliency.shape
            for i in range(h):
                for j in range(w):
                    rows.append((i, j, float(self.result.saliency[i, j]),
                                 float(self.result.grad_cam[i, j])))  # fmt: skip
        write_csv(path, ["row", "col", "saliency", "grad_cam"], rows)
