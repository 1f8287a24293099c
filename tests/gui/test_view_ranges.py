"""Live plots keep their axes cached: ranges that move in steps, axes redrawn only on change."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication, QGraphicsItem

from engine.training.events import RunStarted, StepMetrics
from gui.training.views import LossCurvesView, PlotCanvas
from gui.training.views.base import StickyRange, bounds_of, merge_bounds
from gui.training.views.curves import GrowableSeries

# Every test here fails if it leaves a window, a thread or a training process behind.
pytestmark = pytest.mark.usefixtures("leak_check")


def canvas_plot(qtbot):
    canvas = PlotCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(480, 330)
    plot = canvas.addPlot()
    canvas.show()
    return canvas, plot


def test_bounds_skip_non_finite_values_and_track_the_smallest_positive():
    assert bounds_of(np.array([np.nan, -2.0, 0.0, 3.0, np.inf])) == (-2.0, 3.0, 3.0)
    assert bounds_of(np.array([np.nan]), np.zeros(0)) is None
    assert merge_bounds(None, (0.0, 1.0, 1.0), (-1.0, 0.5, 0.5)) == (-1.0, 1.0, 0.5)


def test_growable_series_keeps_its_bounds_as_points_arrive():
    series = GrowableSeries(2)
    series.append(1, 5.0)
    series.extend(np.array([2.0, 3.0]), np.array([np.nan, 0.25]))
    series.append(4, -1.0)
    assert series.x_bounds == (1.0, 4.0, 1.0)
    assert series.y_bounds == (-1.0, 5.0, 0.25)


def test_plot_canvas_plots_cache_their_axes(qtbot):
    _, plot = canvas_plot(qtbot)
    for name in ("left", "bottom"):
        mode = plot.getAxis(name).cacheMode()
        assert mode == QGraphicsItem.CacheMode.DeviceCoordinateCache


def test_sticky_range_moves_only_when_the_data_leaves_it(qtbot):
    _, plot = canvas_plot(qtbot)
    sticky = StickyRange(plot)
    moves = []
    plot.getViewBox().sigRangeChanged.connect(lambda *_: moves.append(1))
    sticky.update((0.0, 100.0, 1.0), (1.0, 2.0, 1.0))
    (x0, x1), (y0, y1) = sticky.x_range, sticky.y_range
    assert x0 == 0.0 and x1 == pytest.approx(125.0)  # 25 % room for the steps to come
    assert y0 < 1.0 and y1 > 2.0
    moved = len(moves)
    sticky.update((0.0, 120.0, 1.0), (1.1, 1.9, 1.1))  # still inside, still fills it
    assert len(moves) == moved
    sticky.update((0.0, 130.0, 1.0), (1.1, 1.9, 1.1))  # past the right edge
    assert len(moves) > moved and sticky.x_range[1] > 130.0
    sticky.update((0.0, 130.0, 1.0), (1.0, 1.05, 1.0))  # the loss flattened: zoom in
    assert sticky.y_range[1] - sticky.y_range[0] < 0.2
    x_range, y_range = plot.getViewBox().viewRange()
    assert x_range == pytest.approx(list(sticky.x_range))
    assert y_range == pytest.approx(list(sticky.y_range))


def test_sticky_range_uses_log10_on_a_log_axis(qtbot):
    _, plot = canvas_plot(qtbot)
    plot.setLogMode(y=True)
    sticky = StickyRange(plot, x_headroom=0.0)
    sticky.update((0.0, 10.0, 1.0), (-1.0, 100.0, 1e-3))  # negatives cannot be drawn
    y0, y1 = sticky.y_range
    assert y0 < math.log10(1e-3) and y1 > math.log10(100.0) and y1 < 3.0
    assert sticky.x_range == pytest.approx((-1.0, 11.0))  # a 10 % margin, no headroom


def test_a_user_zoom_wins_until_the_auto_range_button(qtbot):
    _, plot = canvas_plot(qtbot)
    box = plot.getViewBox()
    sticky = StickyRange(plot)
    sticky.update((0.0, 10.0, 1.0), (0.0, 1.0, 1.0))
    box.scaleBy((0.5, 0.5))  # as the mouse wheel does
    box.sigRangeChangedManually.emit(box.state["mouseEnabled"])
    zoomed = box.viewRange()
    sticky.update((0.0, 500.0, 1.0), (0.0, 9.0, 1.0))
    assert box.viewRange() == zoomed
    plot.autoBtnClicked()  # the "A" button
    sticky.update((0.0, 500.0, 1.0), (0.0, 9.0, 1.0))
    assert box.viewRange()[0][1] >= 500.0 and not any(box.autoRangeEnabled())


def test_loss_curves_do_not_redraw_their_axes_while_the_range_holds(qtbot, monkeypatch):
    view = LossCurvesView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    view.start_run(RunStarted(1, "CNN", "digits", "cpu", 1, 10, {}))

    def feed(first, count):
        view.add_steps(
            [StepMetrics(1, s, 1, 1.0 + 0.01 * (s % 7), 0.01, 1e3, None, 0.5) for s in range(first, first + count)]
        )  # fmt: skip
        view.repaint_now()
        QApplication.processEvents()  # the scene's queued update reaches the viewport
        view.repaint()  # and the view paints it now

    feed(1, 400)
    painted = []
    original = pg.AxisItem.paint
    monkeypatch.setattr(
        pg.AxisItem, "paint", lambda self, *a: (painted.append(self), original(self, *a))[1]
    )
    feed(401, 20)  # the same loss band, and well inside the x headroom
    assert view.runs[-1].train_loss.size == 420
    assert painted == []
    feed(421, 400)  # past the right edge: the step axis is redrawn
    assert painted


def test_confusion_labels_are_cached_and_follow_changed_cells(qtbot, monkeypatch):
    from engine.probes import ClassificationReport
    from gui.training.views import ConfusionMatrixView

    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()

    def report(cm):
        cm = np.asarray(cm, np.int64)
        n = int(cm.sum())
        return ClassificationReport(cm, np.zeros(n, int), np.ones(n, bool), np.ones(n), 0.5)

    view.set_report(report([[3, 1], [0, 4]]))
    view.repaint_now()
    assert all(
        t.cacheMode() == QGraphicsItem.CacheMode.DeviceCoordinateCache for t in view.cell_labels
    )
    set_texts = []
    original = pg.TextItem.setText
    monkeypatch.setattr(
        pg.TextItem, "setText", lambda self, *a, **k: (set_texts.append(a[0]), original(self, *a, **k))[1]
    )  # fmt: skip
    view.set_report(report([[3, 1], [0, 5]]))  # one cell changed; its colour band did not
    view.repaint_now()
    assert set_texts == ["5"]
    assert [t.toPlainText() for t in view.cell_labels] == ["3", "1", "0", "5"]
