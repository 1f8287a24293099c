"""Gradient clipping in the Training panel: off by default, sent to a live run when edited,
marked on the loss curves as "clip 1", offered when a run explodes, and kept in a project."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog

from engine.project import PROJECT_FILE

RUN_TIMEOUT_MS = 60_000


def choose_optimizer(panel, name: str) -> None:
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData(name))


def test_the_clip_field_is_off_by_default_and_reads_as_a_setting(make_app_window):
    panel = make_app_window("exploding_rnn").dashboard.panel
    assert panel.clip_spin.text() == "off"
    assert panel.settings()["grad_clip"] is None
    panel.clip_spin.setValue(2.5)
    assert panel.settings()["grad_clip"] == 2.5
    panel.set_settings({"grad_clip": None})
    assert panel.settings()["grad_clip"] is None and panel.clip_spin.text() == "off"


def test_an_exploding_run_fails_offering_the_clip_and_with_it_the_run_learns(
    make_app_window, qtbot
):
    board = make_app_window("exploding_rnn").dashboard
    panel = board.panel
    board.settings_overrides = {"seed": 0}
    choose_optimizer(panel, "sgd")  # the lesson's optimiser: its step is lr × the gradient
    panel.epochs_spin.setValue(2)
    with qtbot.waitSignal(board.controller.run_failed, timeout=RUN_TIMEOUT_MS) as failed:
        board.train()
    assert "Gradient clip in the Training panel" in failed.args[0].message
    assert panel.status_label.text() == failed.args[0].message

    panel.clip_spin.setValue(1.0)  # idle: the next run's setting, no message to a run
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        board.train()
    final = finished.args[0].final
    assert final.val_loss < 0.5  # measured 0.05-0.1 after 2 epochs; the first loss is ~1e7
    assert board.curves.runs[-1].train_loss.size == finished.args[0].step


def test_editing_the_clip_during_a_run_marks_the_curves_and_a_project_keeps_it(
    make_app_window, qtbot, monkeypatch, tmp_path
):
    window = make_app_window("exploding_rnn")
    board, panel = window.dashboard, window.dashboard.panel
    board.settings_overrides = {"seed": 0}
    panel.until_stopped_check.setChecked(True)  # Adam survives the explosion; Stop ends it
    sent = []
    panel.grad_clip_edited.connect(sent.append)
    with qtbot.waitSignal(board.controller.run_started, timeout=RUN_TIMEOUT_MS):
        board.train()
    qtbot.waitUntil(
        lambda: bool(board.curves.runs) and board.curves.runs[-1].train_loss.size > 3,
        timeout=RUN_TIMEOUT_MS,
    )
    assert panel.clip_spin.isEnabled()  # editable during the run
    with qtbot.waitSignal(board.controller.settings_changed, timeout=10_000) as changed:
        panel.clip_spin.setValue(1.0)
    assert sent == [1.0] and dict(changed.args[0].changes) == {"grad_clip": 1.0}
    run = board.curves.runs[-1]
    qtbot.waitUntil(lambda: bool(run.markers), timeout=10_000)
    assert run.markers[0].label.toPlainText() == "clip 1"
    qtbot.waitUntil(lambda: "clip 1" in panel.status_label.text(), timeout=10_000)

    with qtbot.waitSignal(board.controller.settings_changed, timeout=10_000) as changed:
        panel.clip_spin.setValue(0.0)  # off again, live
    assert sent == [1.0, None] and dict(changed.args[0].changes) == {"grad_clip": None}
    qtbot.waitUntil(lambda: len(run.markers) == 2, timeout=10_000)
    assert run.markers[1].label.toPlainText() == "clip off"

    with qtbot.waitSignal(board.controller.run_finished, timeout=10_000):
        board.stop()

    panel.clip_spin.setValue(1.0)
    target = tmp_path / "exploding"
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *_a, **_k: (str(target), "LayerLab project (*.layerlab)")),
    )
    files = window.files
    assert files.save()
    folder = tmp_path / "exploding.layerlab"
    assert '"grad_clip": 1.0' in (folder / PROJECT_FILE).read_text(encoding="utf-8")
    panel.clip_spin.setValue(0.0)
    assert files.open_path(folder)
    assert panel.settings()["grad_clip"] == 1.0


def test_gates_of_an_exploded_relu_rnn_are_drawn_not_crashed_on(qtbot):
    import numpy as np

    from engine.probes import LayerTrace, RecurrentTrace
    from gui.training.views import GateHeatmapView

    view = GateHeatmapView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    hidden = np.full((100, 8), np.inf, np.float32)  # what exploding_rnn's first step leaves
    hidden[:10] = np.linspace(0, 3e38, 80, dtype=np.float32).reshape(10, 8)
    hidden[50:, :4] = np.nan
    view.set_trace(RecurrentTrace("rnn1", "RNN_RELU", (LayerTrace(0, 0, {"hidden": hidden}),)))
    view.repaint_now()
    view.grab()  # paints: this crashed the process before the values were made drawable
    drawn = view.heatmaps["hidden"]
    assert np.isfinite(drawn).all() and drawn.max() == pytest.approx(1e30)
    assert view.colour_bars["hidden"].levels() == pytest.approx((0.0, 1e30))
    assert (drawn[50:, :4] == 0).all()  # NaN drawn as 0
