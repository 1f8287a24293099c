"""The probe sample applies live: a sample clicked in the Dataset panel (or typed in the training
panel) during a run changes the feature-map view's input within a step; idle, it is the setting
for the next run."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt

from engine.probes.registry import PROBE_KINDS

RUN_TIMEOUT_MS = 60_000
# Far longer than the test: feature maps seen after a change come from the change itself (the
# first look, every probe once after the run's first step, comes before it).
SLOW_PROBES = {kind: 600.0 for kind in PROBE_KINDS}


def click_preview_tile(qtbot, window, position: int) -> None:
    panel = window.dataset_panel
    if window.dataset_dock.isHidden():  # the Train workspace: View › Dataset shows it
        window.dataset_dock.toggleViewAction().trigger()
    window.dataset_dock.raise_()
    qtbot.waitUntil(lambda: panel.sample_view.isVisible(), timeout=5000)
    view = panel.sample_view
    col, row = panel.preview.tile_origin(position)
    h, w = panel.preview.tile_shape
    mosaic = view.graphics.getItem(0, 0)  # the one ViewBox the digits' tiles are drawn in
    scene_point = mosaic.mapViewToScene(QPointF(col + w / 2, row + h / 2))
    widget_point = view.graphics.mapFromScene(scene_point)
    with qtbot.waitSignal(panel.sample_selected, timeout=2000):
        qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)


def test_clicking_a_sample_during_a_run_changes_the_feature_maps_input(make_app_window, qtbot):
    window = make_app_window()
    board, panel = window.dashboard, window.dataset_panel
    qtbot.waitUntil(lambda: panel.current_dataset is not None, timeout=RUN_TIMEOUT_MS)
    data = panel.current_dataset
    assert panel.preview.split == "val"
    board.panel.epochs_spin.setValue(200)  # longer than the test: it stops the run itself
    board.settings_overrides = {"probe_intervals": SLOW_PROBES, "seed": 0}
    snapshots = []
    board.controller.probe_updated.connect(snapshots.append)
    with qtbot.waitSignal(board.controller.run_started, timeout=RUN_TIMEOUT_MS):
        board.train()
    view = board.feature_maps
    qtbot.waitUntil(lambda: view.input_image is not None, timeout=RUN_TIMEOUT_MS)
    np.testing.assert_array_equal(view.input_image, data.x_val[0])
    # Every probe runs once after the run's first step: sample 0's maps, long before 600 s.
    qtbot.waitUntil(lambda: len(view.maps) > 0, timeout=RUN_TIMEOUT_MS)
    assert board.panel.sample_spin.isEnabled()  # editable during the run
    # Every status line, not only the last: an epoch's summary may replace the sample message
    # before the assertion below runs (it did on a loaded machine).
    statuses = []
    show_status = board.panel.show_status
    board.panel.show_status = lambda text, error=False: (
        statuses.append(text),
        show_status(text, error),
    )[1]

    click_preview_tile(qtbot, window, 3)
    chosen = int(panel.preview.indices[3])
    assert board.panel.sample_spin.value() == chosen
    qtbot.waitUntil(lambda: view.sample_text == f"val sample {chosen}", timeout=RUN_TIMEOUT_MS)
    np.testing.assert_array_equal(view.input_image, data.x_val[chosen])

    # Its feature maps follow at once, although their interval (600 s) is far from over.
    def maps_of_the_new_sample():
        new_input = next(s for s in snapshots if s.kind == "probe_input" and s.data.index == chosen)
        later = snapshots[snapshots.index(new_input) + 1 :]
        return new_input, next((s for s in later if s.kind == "feature_maps"), None)

    qtbot.waitUntil(lambda: maps_of_the_new_sample()[1] is not None, timeout=RUN_TIMEOUT_MS)
    new_input, maps = maps_of_the_new_sample()
    assert maps.step == new_input.step > 0 and board.controller.is_running
    # The view shows the maps of the new sample.
    qtbot.waitUntil(lambda: view.maps == tuple(maps.data), timeout=RUN_TIMEOUT_MS)
    assert any(f"the views now show validation sample {chosen}" in text for text in statuses)
    assert all("probe_sample_index" not in m.toolTip() for m in board.curves.runs[-1].markers)

    # Typing an index beyond the validation split: a message; the run goes on unchanged.
    board.panel.sample_spin.setValue(99_999)
    assert "outside the" in board.panel.status_label.text()
    assert board.controller.is_running and view.sample_text == f"val sample {chosen}"

    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.stop()
    # Idle: the sample is the setting for the next run, nothing is sent anywhere.
    board.panel.sample_spin.setValue(5)
    assert board.panel.settings()["probe_sample_index"] == 5
    assert view.sample_text == f"val sample {chosen}"
