"""The Loss curves keep bounded memory over long runs: a bounded number of points per series
however many steps arrive, the newest at full resolution, and a spike kept and drawn."""

from __future__ import annotations

import numpy as np
import pytest

from engine.training.events import RunStarted
from gui.training.views import LossCurvesView
from gui.training.views.series import GrowableSeries, peak_downsample

pytestmark = pytest.mark.usefixtures("leak_check")


def test_a_series_stays_bounded_and_keeps_its_extremes():
    series = GrowableSeries(16, max_points=1000)
    rng = np.random.default_rng(1)
    for begin in range(0, 200_200, 700):
        x = np.arange(begin, begin + 700, dtype=np.float64)
        y = rng.random(700)
        if begin == 70_000:
            y[123] = 40.0  # a diverging step, early in the run
        if begin == 140_000:
            y[5] = -9.0
        series.extend(x, y)
        assert series.size <= 1000 and series.capacity <= 1000
    assert series.total == 200_200
    assert series.y.max() == 40.0 and series.y.min() == -9.0
    assert 70_123 in series.x and np.all(np.diff(series.x) > 0)
    assert np.array_equal(series.x[-200:], np.arange(200_000, 200_200))  # newest: every step
    # Old steps as finely as recent ones: the kept points spread over the whole range.
    counts, _ = np.histogram(series.x[: series.size - 250], bins=8, range=(0, 199_000))
    assert counts.min() > 0.5 * counts.max()


def test_peak_downsample_buckets_by_x_and_keeps_nan_gaps():
    x = np.arange(50_000, dtype=np.float64)
    y = np.sin(x / 1000)
    y[30_000] = np.nan
    dx, dy = peak_downsample(x, y, 500)
    assert len(dx) <= 500 and np.isnan(dy).sum() >= 1  # a diverged step stays a gap
    assert dy[np.isfinite(dy)].max() == pytest.approx(1.0, abs=1e-5)


def test_the_drawn_curve_keeps_a_spike_after_a_million_steps(qtbot):
    view = LossCurvesView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    view.start_run(RunStarted(1, "m", "d", "cpu", 1, 10**6, {}))
    view.smooth_box.setChecked(False)  # the raw curve is what must show the spike
    x = np.arange(1, 10**6 + 1, dtype=np.float64)
    y = 1.0 / np.sqrt(x)
    y[123_457] = 75.0
    for begin in range(0, 10**6, 25_000):
        view.add_points(1, x[begin : begin + 25_000], y[begin : begin + 25_000])
    view.repaint_now()
    run = view.runs[-1]
    assert run.train_loss.size <= 20_000 and run.smoothed.size <= 20_000
    drawn_x, drawn_y = run.items["train_loss"].getData()  # what the plot draws at its zoom
    assert 75.0 in drawn_y  # pyqtgraph's peak mode: drawn at its bucket's x
    spike = drawn_x[np.flatnonzero(drawn_y == 75.0)[0]]
    assert abs(spike - 123_458) < 0.01 * 10**6
    assert 123_458.0 in run.train_loss.x


def test_a_long_runs_dashed_validation_curve_is_thinned_keeps_its_peak_and_shows_all_on_zoom(
    qtbot,
):
    """Stroking a dash per epoch cost ~10 ms a frame for 1,200 epochs at 1920×1080: past
    their dots the validation curves are drawn a point every few pixels, peaks kept."""
    from engine.training.events import EpochMetrics
    from gui.training.views.curves import DASHED_PX_PER_POINT

    view = LossCurvesView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    view.start_run(RunStarted(1, "m", "d", "cpu", 2000, 25, {}))
    steps = np.arange(1, 50_001, dtype=np.float64)
    view.add_points(1, steps, 1.0 / np.sqrt(steps))
    for epoch in range(1, 2001):
        val = 5.0 if epoch == 1234 else 0.3 + 0.01 * (epoch % 7)
        view.add_epoch(EpochMetrics(1, epoch, epoch * 25, 0.3, val, 0.9, 0.9))
    view.repaint_now()
    qtbot.wait(10)
    view.repaint_now()
    item = view.runs[-1].items["val_loss"]
    x, y = item.getData()
    width = view.loss_plot.getViewBox().width()
    assert 2 <= len(x) <= width / DASHED_PX_PER_POINT + 4  # not 2,000 dashed segments
    assert 5.0 in y  # the spike's bucket keeps it
    assert item.opts["pen"].widthF() == 1 and item.opts["pen"].isCosmetic()  # dashes per pixel
    view.loss_plot.setXRange(1200 * 25, 1260 * 25, padding=0)
    x, _ = item.getData()
    assert set(range(1201 * 25, 1260 * 25, 25)) <= set(x.astype(int))  # every epoch in view
