"""The Runs panel: the project's runs with what differs between them, overlaid on the loss
curves when ticked, deleted after asking, their weights loaded into the model; unreadable
run folders are rows with a sentence. Runs are made by really training tiny models."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.runs.folder import RUN_FILE, new_run_folder, read_metrics
from gui.training.views.series import peak_downsample

RUN_TIMEOUT_MS = 60_000


def train_run(parent, lr, epochs=2, example="moons_mlp"):
    """A real run folder: the example's model trained on a small 2-D set, recorded."""
    from engine.runs.recorder import RunRecorder
    from engine.training.settings import TrainSettings
    from engine.training.trainer import Trainer
    from tests.engine._train_fixtures import vector_data

    spec = ModelSpec.load(example_path(example))
    settings = TrainSettings(epochs=epochs, lr=lr, device="cpu", batch_size=16, seed=0,
                             probes=False, torch_threads=1)  # fmt: skip
    folder = new_run_folder(parent, f"{spec.name}-lr{lr}")
    trainer = Trainer(spec, vector_data(n=160), settings)
    recorder = RunRecorder(folder, trainer, tensorboard=False)
    trainer.callbacks.append(recorder)
    trainer.run()
    assert recorder.problem is None
    return folder


def legend_names(curves) -> list[str]:
    return [label.text for _sample, label in curves.legend.items]


def test_lists_runs_with_what_differs_and_overlays_ticked_ones(make_app_window, qtbot, runs_dir):
    slow, fast = train_run(runs_dir, 0.001), train_run(runs_dir, 0.05)
    w = make_app_window("moons_mlp")
    w.workspaces.show("train")  # where the Loss curves the overlays go on are on screen
    panel, curves = w.runs_panel, w.dashboard.curves
    panel.refresh()
    rows = panel.rows()
    assert [r[0] for r in rows] == [slow.name, fast.name]
    for row in rows:
        assert row[4] == "MLP for 2-D points (two moons)" and row[5] == "vec"
        assert row[3] == "finished" and row[2].startswith("val_accuracy ")
        assert row[7].endswith(" s") and row[6][:2] == "20"
    assert [r[1] for r in rows] == ["lr 0.001", "lr 0.05"]  # only what differs

    panel.set_ticked(slow, True)
    panel.set_ticked(fast, True)
    assert panel.overlay_labels() == ["lr 0.001", "lr 0.05"]
    assert {"lr 0.001", "lr 0.05"} <= set(legend_names(curves))
    steps = [r["step"] for r in read_metrics(fast).steps]
    drawn = panel.overlays[fast].train_loss
    assert drawn.size == len(steps) and drawn.x[-1] == steps[-1]
    # Without a live run the view leaves its empty state for the overlays (a paint, on its timer).
    qtbot.waitUntil(lambda: curves.stack.currentWidget() is curves.content)

    panel.set_ticked(slow, False)
    assert panel.overlay_labels() == ["lr 0.05"]
    assert "lr 0.001" not in legend_names(curves) and "lr 0.05" in legend_names(curves)


def test_a_new_run_of_another_model_renames_the_legend(make_app_window, runs_dir):
    first = train_run(runs_dir, 0.01)
    w = make_app_window("moons_mlp")
    panel = w.runs_panel
    panel.refresh()
    panel.set_ticked(first, True)
    assert panel.overlay_labels()[0].startswith("MLP for 2-D points")  # nothing differs yet
    train_run(runs_dir, 0.02)
    panel.refresh()
    assert panel.overlay_labels() == ["lr 0.01"]
    assert legend_names(w.dashboard.curves) == ["lr 0.01"]


def test_delete_asks_and_load_weights_uses_the_last_checkpoint(make_app_window, answers, runs_dir):
    from engine.runs.checkpoint import read_checkpoint

    keep, gone = train_run(runs_dir, 0.01), train_run(runs_dir, 0.02)
    w = make_app_window("moons_mlp")
    panel, doc = w.runs_panel, w.document
    panel.refresh()
    panel.select(gone)
    answers.question = QMessageBox.StandardButton.Cancel
    assert not panel.delete_run(panel.selected())
    assert gone.exists() and gone.name in answers.asked[-1]
    doc.add_run(gone)  # as the window does when a run of this untitled model ends
    assert gone in doc.unsaved_runs and doc.is_modified
    answers.question = QMessageBox.StandardButton.Yes
    panel.delete_button.click()
    assert not gone.exists() and [r[0] for r in panel.rows()] == [keep.name]
    assert gone not in doc.unsaved_runs  # a deleted run is no unsaved work

    assert doc.weights is None
    panel.select(keep)
    panel.load_button.click()
    expected = read_checkpoint(keep).model_state()
    assert set(doc.weights) == set(expected)
    for name, value in expected.items():
        assert np.array_equal(doc.weights[name], value.numpy())
    assert "Loaded the weights" in panel.message.text()


def test_weights_of_another_architecture_are_refused_with_a_sentence(make_app_window, runs_dir):
    other = train_run(runs_dir, 0.01)
    w = make_app_window("digits_cnn")  # the run is the moons MLP's
    panel = w.runs_panel
    panel.refresh()
    assert not panel.load_weights(other)
    assert w.document.weights is None
    assert "do not fit the model" in panel.message.text()


def test_a_corrupt_run_json_is_a_row_with_its_sentence(make_app_window, runs_dir):
    good = train_run(runs_dir, 0.01)
    bad = runs_dir / "broken-run"
    bad.mkdir()
    (bad / RUN_FILE).write_text('{"format": "layerlab.run", "vers', encoding="utf-8")
    w = make_app_window("moons_mlp")
    w.runs_panel.refresh()
    rows = w.runs_panel.rows()
    assert rows[0][0] == good.name
    assert (
        len(rows[1]) == 1 and str(bad / RUN_FILE) in rows[1][0] and "not valid JSON" in rows[1][0]
    )


def test_the_list_follows_a_project_and_its_runs_as_they_end(
    make_app_window, qtbot, monkeypatch, tmp_path, runs_dir
):
    train_run(runs_dir, 0.01)  # the data directory's: not the project's
    w = make_app_window("moons_mlp")
    board, panel = w.dashboard, w.runs_panel
    target = tmp_path / "proj"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName",
        staticmethod(lambda *_a, **_k: (str(target), "LayerLab project (*.layerlab)")),
    )  # fmt: skip
    with qtbot.waitSignal(panel.runs_listed):
        assert w.files.save()  # the document now is a project: its runs/ is listed (none)
    assert panel.rows() == []
    board.panel.set_settings({"epochs": 1, "batch_size": 64})
    board.settings_overrides = {"probes": False}
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
    qtbot.waitUntil(lambda: [r[3] for r in panel.rows()] == ["finished"])
    assert panel.rows()[0][0].startswith("mlp-for-2-d-points")


def test_peak_downsampling_keeps_spikes_and_bounds_the_points():
    x = np.arange(100_000, dtype=np.float64)
    y = np.ones_like(x)
    y[54_321] = 50.0
    y[77_777] = -3.0
    dx, dy = peak_downsample(x, y, 4000)
    assert len(dx) <= 4000 and dy.max() == 50.0 and dy.min() == -3.0
    assert np.all(np.diff(dx) >= 0) and 54_321 in dx
    same = peak_downsample(x[:10], y[:10], 4000)
    assert np.array_equal(same[0], x[:10])


def test_double_clicking_a_run_shows_it_in_the_views(make_app_window, qtbot, runs_dir):
    from PySide6.QtCore import QPoint, Qt

    folder = train_run(runs_dir, 0.01)
    w = make_app_window("moons_mlp")
    w.runs_panel.refresh()
    w.runs_dock.show()
    w.runs_dock.raise_()
    tree = w.runs_panel.tree
    qtbot.waitUntil(tree.isVisible)
    item = tree.topLevelItem(0)
    # On the run's name, right of its checkbox (a click there would tick it).
    x = min(tree.columnWidth(0), tree.viewport().width()) - 8
    where = QPoint(x, tree.visualItemRect(item).center().y())
    # A double click as a user makes it: QTest's alone sends no first press, and item views
    # act on a double click only over the item the press was on.
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
    follower = w.dashboard.follower
    qtbot.waitUntil(lambda: follower.folder is not None and follower.folder.samefile(folder))
    assert follower.status_text.startswith(f"Showing {folder.name}")  # finished: not followed
    shown = w.dashboard.curves.runs[-1].train_loss
    assert shown.size == len(read_metrics(folder).steps)


def test_continue_trains_a_window_run_on_in_its_own_folder(make_app_window, qtbot, runs_dir):
    """Continue… goes on from the run's last checkpoint in its own folder, the steps and the
    epochs going on from where it stopped, as `main.py train --resume` does."""
    from engine.runs.folder import read_run

    w = make_app_window("moons_mlp")
    board, panel = w.dashboard, w.runs_panel
    board.panel.epochs_spin.setValue(2)
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
    panel.refresh()
    folder = next(iter(panel.runs))
    assert read_run(folder).get("dataset")["location"] == "moons"  # resumable as it is
    steps_before = read_run(folder).get("step")
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS) as done:
        assert panel.continue_run(folder, 1, "last")
    assert not done.args[0].stopped_early
    info = read_run(folder)
    assert info.status == "finished" and info.get("epochs_done") == 3
    assert [s["first_step"] for s in info.get("segments")] == [0, steps_before]
    steps = [r["step"] for r in read_metrics(folder).steps]
    assert steps == list(range(1, info.get("step") + 1))  # one curve, no gap, no repeat
    live = board.curves.runs[-1].train_loss
    assert live.x[0] == steps_before + 1  # the live curve goes on from the same step


def test_continue_says_why_a_run_cannot_go_on(make_app_window, runs_dir):
    folder = train_run(runs_dir, 0.01)  # data handed over in memory: nowhere to read it again
    w = make_app_window("moons_mlp")
    w.runs_panel.refresh()
    assert not w.runs_panel.continue_run(folder, 1, "last")
    assert "does not say where its data was read from" in w.runs_panel.message.text()
    assert not w.dashboard.is_training
