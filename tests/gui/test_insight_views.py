"""Decision regions and saliency: the views draw their probes' snapshots, receive them from real
runs through the dashboard, and say what they need when the model does not fit."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.probes import DecisionRegions, ProbeInput, SaliencyMap
from engine.probes.registry import PROBE_KINDS
from engine.training.events import ProbeSnapshot
from gui.training.dashboard import install
from gui.training.docks import grid_views
from gui.training.views import DecisionRegionView, SaliencyView
from gui.training.views.base import PALETTE
from gui.training.views.regions import FULL

pytestmark = pytest.mark.usefixtures("leak_check")

RUN_TIMEOUT_MS = 60_000


def _regions() -> DecisionRegions:
    xs, ys = np.linspace(-1, 1, 4, dtype=np.float32), np.linspace(0, 3, 3, dtype=np.float32)
    predicted = np.array([[0, 0, 1, 1], [0, 1, 1, 1], [2, 2, 1, 1]], np.int64)
    probability = np.full((3, 4), 1.0, np.float32)
    probability[1, 1] = 1 / 3  # chance: the palest cell
    return DecisionRegions(
        xs, ys, predicted, probability,
        points=np.array([[0.0, 1.0], [0.5, 2.0]], np.float32),
        labels=np.array([0, 2], np.int64), point_predicted=np.array([0, 1], np.int64),
        num_classes=3,
    )  # fmt: skip


def test_decision_regions_colour_cells_by_class_and_sureness(qtbot, tmp_path):
    view = DecisionRegionView()
    qtbot.addWidget(view)
    assert "Decision regions need a classifier with 2 inputs" in view.empty_label.text()
    view.set_class_names(["red", "green", "blue"])
    view.take_snapshot(ProbeSnapshot(1, 10, "decision_regions", _regions(), None))
    view.repaint_now()
    assert view.image.shape == (3, 4, 3)
    sure_blue = np.array(QColor(PALETTE[2]).getRgb()[:3], np.float32)
    expected = np.round(255 + FULL * (sure_blue - 255))
    assert np.array_equal(view.image[2, 0], expected)  # class 2, certain: its colour, strong
    assert view.image[1, 1].min() > view.image[1, 2].min()  # at chance: paler than when sure
    assert view.legend_labels() == ["red", "green", "blue", "predicted wrong"]
    assert "1 wrong" in view.caption.text() and "50.0%" in view.caption.text()
    # The points: each in its true class's colour, a cross (larger) where the model is wrong.
    spots = view.scatter.points()
    assert [s.symbol() for s in spots] == ["o", "x"] and [s.size() for s in spots] == [7, 11]
    red, blue = (np.array(QColor(PALETTE[c]).getRgb()[:3]) for c in (0, 2))
    colours = [list(s.brush().color().getRgb()[:3]) for s in spots]
    assert colours == [red.tolist(), blue.tolist()]
    # The image lies over the grid in the data's units, half a cell past the outer centres.
    rect = view.item.mapRectToParent(view.item.boundingRect())
    assert rect.left() == pytest.approx(-1 - 1 / 3) and rect.bottom() == pytest.approx(3.75)
    view.export_csv(tmp_path / "regions.csv")
    lines = (tmp_path / "regions.csv").read_text().splitlines()
    assert lines[0] == "input 1,input 2,predicted,probability" and len(lines) == 13


def _saliency(label: int = 3) -> SaliencyMap:
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    ramp = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    return SaliencyMap(image, ramp, ramp[::-1].copy(), "conv2", 3, 0.9, label)


def test_saliency_shows_sample_maps_and_the_verdict(qtbot, tmp_path):
    view = SaliencyView()
    qtbot.addWidget(view)
    assert "need an image classifier with a Conv2d block" in view.empty_label.text()
    view.set_class_names([f"digit {i}" for i in range(10)])
    sample = ProbeInput(7, "val", np.zeros((1, 4, 4), np.float32), np.int64(5))
    view.take_snapshot(ProbeSnapshot(1, 5, "probe_input", sample, None))
    view.take_snapshot(ProbeSnapshot(1, 5, "saliency", _saliency(label=5), None))
    view.repaint_now()
    assert view.caption.text() == "val sample 7: predicted digit 3 (90%), true digit 5 ✗"
    assert view.saliency_item.image.shape == (4, 4) and view.cam_item.image.shape == (4, 4, 3)
    # Where Grad-CAM is 0 the overlay is the sample's grey; where it is 1 mostly heat colour.
    grey, cam = view.sample_item.image, view.result.grad_cam
    assert np.allclose(view.cam_item.image[cam == 0], grey[cam == 0][:, None])
    assert not np.allclose(view.cam_item.image[cam == 1], grey[cam == 1][:, None], atol=0.1)
    assert view.sample_item.image.max() == 1.0 and view.sample_item.image.min() == 0.0
    assert "conv2" in view.plots["Grad-CAM"].titleLabel.text
    view.resize(900, 380)
    view.show()
    qtbot.waitUntil(lambda: view.plots["sample"].width() > 100)
    widths = {round(p.width()) for p in view.plots.values()}
    assert max(widths) - min(widths) <= 1  # three pictures of one size side by side
    view.export_csv(tmp_path / "saliency.csv")
    assert len((tmp_path / "saliency.csv").read_text().splitlines()) == 17


@pytest.fixture
def dashboard(main_window, qtbot):
    board = install(main_window, main_window.document)
    main_window.workspaces.show("train")
    qtbot.waitUntil(lambda: board.docks["Loss curves"].widget().is_on_screen(), timeout=5000)
    yield board
    board.shutdown()


def test_a_moons_mlp_run_draws_its_decision_regions(dashboard, qtbot):
    board = dashboard
    board.window.document.new(ModelSpec.load(example_path("moons_mlp")))
    assert "Decision regions" in grid_views(board.document.spec)
    board.settings_overrides = {"probe_intervals": {k: 0.05 for k in PROBE_KINDS}, "seed": 0}
    board.panel.epochs_spin.setValue(2)
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
    qtbot.waitUntil(lambda: board.regions.regions is not None, timeout=10_000)
    qtbot.waitUntil(lambda: board.regions.is_on_screen(), timeout=5000)  # in the grid
    board.regions.repaint_now()
    regions = board.regions.regions
    assert regions.predicted.shape == (100, 100) and regions.points.shape[1] == 2
    assert set(np.unique(regions.labels)) == {0, 1}
    assert board.regions.image.shape == (100, 100, 3)
    assert "validation points" in board.regions.caption.text()
    # An MLP on points has no conv layers: the saliency view says what it needs.
    assert not board.saliency.has_data
    assert "need an image classifier" in board.saliency.empty_label.text()


def test_a_digits_cnn_run_shows_saliency_and_follows_the_probe_sample(dashboard, qtbot):
    board = dashboard
    # Far longer than the test: a saliency map seen after the sample changes comes from the
    # change itself.
    board.settings_overrides = {"probe_intervals": {k: 600.0 for k in PROBE_KINDS}, "seed": 0}
    board.panel.epochs_spin.setValue(200)  # stopped below
    snapshots = []
    board.controller.probe_updated.connect(snapshots.append)
    with qtbot.waitSignal(board.controller.run_started, timeout=RUN_TIMEOUT_MS):
        board.train()
    qtbot.waitUntil(lambda: board.saliency.result is not None, timeout=RUN_TIMEOUT_MS)
    first = board.saliency.result
    assert first.saliency.shape == first.grad_cam.shape == (8, 8) and first.cam_layer == "conv2"
    x_val = board.dataset.x_val
    np.testing.assert_array_equal(first.image, x_val[0])
    board.set_probe_sample(5)
    qtbot.waitUntil(
        lambda: (
            any(s.kind == "saliency" and s.data is not first for s in snapshots[1:])
            and board.saliency.sample_text == "val sample 5"
        ),
        timeout=RUN_TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: np.array_equal(board.saliency.result.image, x_val[5]), timeout=10_000)
    board.saliency.repaint_now()
    assert board.saliency.caption.text().startswith("val sample 5: predicted ")
    assert "true " in board.saliency.caption.text()
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.stop()
    # A CNN's inputs are images, not points: the decision regions say what they need.
    assert not board.regions.has_data
    assert "need a classifier with 2 inputs" in board.regions.empty_label.text()
