"""The Runs panel's actions on real run folders: rename (kept in run.json, the folder kept;
refused while the run trains or when empty), export a checkpoint's weights, two runs' settings
side by side, and recurrent runs' saved gradient through time drawn on the Gradient flow view."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QInputDialog

from engine.runs.checkpoint import read_checkpoint
from engine.runs.folder import RUN_FILE, new_run_folder, read_run
from engine.runs.probe_files import read_probes
from tests.gui.test_runs_panel import train_run


def train_recurrent(parent, block, lr=0.01):
    """A real run of a tiny recurrent model with the gradient-through-time probe on."""
    from engine.runs.recorder import RunRecorder
    from engine.training.settings import TrainSettings
    from engine.training.trainer import Trainer
    from tests.engine._train_fixtures import rnn_spec, sequence_data

    spec = rnn_spec(block)
    settings = TrainSettings(epochs=1, lr=lr, device="cpu", batch_size=8, seed=0,
                             probe_kinds=("time_gradients",), torch_threads=1)  # fmt: skip
    folder = new_run_folder(parent, f"{block}-lr{lr}")
    trainer = Trainer(spec, sequence_data(n=40), settings)
    recorder = RunRecorder(folder, trainer, tensorboard=False)
    trainer.callbacks.append(recorder)
    trainer.run()
    assert recorder.problem is None
    return folder


def test_rename_keeps_the_folder_and_refuses_bad_names_and_running_runs(make_app_window, runs_dir):
    first, second = train_run(runs_dir, 0.001), train_run(runs_dir, 0.05)
    w = make_app_window("moons_mlp")
    panel = w.runs_panel
    panel.refresh()
    panel.set_ticked(first, True)
    assert panel.rename_run(first, "  baseline \n slow ")
    assert first.exists() and json.loads((first / RUN_FILE).read_text())["name"] == "baseline slow"
    assert [r[0] for r in panel.rows()] == ["baseline slow", second.name]
    assert read_run(first).name == "baseline slow"  # read again from disk: it persists
    assert "baseline slow" in panel.message.text()

    assert not panel.rename_run(first, "   ")
    assert "cannot be empty" in panel.message.text()
    assert not panel.rename_run(first, "x" * 500)
    assert "at most 120" in panel.message.text()
    assert read_run(first).name == "baseline slow"

    data = json.loads((second / RUN_FILE).read_text())  # as a run still being written is
    (second / RUN_FILE).write_text(json.dumps({**data, "status": "running", "pid": 1}))
    panel.refresh()
    assert panel.rows()[1][3] == "running"
    assert not panel.rename_run(second, "other")
    assert (
        "still training" in panel.message.text() and str(second / RUN_FILE) in panel.message.text()
    )
    assert read_run(second).name == second.name


@pytest.mark.parametrize("which", ["last", "best"])
def test_export_writes_the_chosen_checkpoints_weights(
    make_app_window, answers, monkeypatch, tmp_path, runs_dir, which
):
    from safetensors.numpy import load_file

    run = train_run(runs_dir, 0.05, epochs=3)
    last, best = read_checkpoint(run, "last"), read_checkpoint(run, "best")
    target = tmp_path / "exported.safetensors"
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(
            lambda *_a, **_k: (str(target), "safetensors (weights + model spec) (*.safetensors)")
        ),
    )
    asked = []

    def choose(_parent, _title, _label, items, *_args):
        asked.append(items)
        return next(i for i in items if i.startswith(which)), True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(choose))
    w = make_app_window("digits_cnn")  # the model on the canvas is not the run's: no matter
    panel = w.runs_panel
    panel.refresh()
    panel.select(run)
    panel.export_button.click()
    if last.progress.step != best.progress.step:
        assert len(asked) == 1 and len(asked[0]) == 2
    else:  # the last epoch was the best: one checkpoint, no question; ask for one by name
        assert not asked
        target.unlink()
        assert panel.export_weights(run, which)
    expected = (last if which == "last" else best).model_state()
    written = load_file(target)
    assert set(written) == set(expected)
    for name, tensor in expected.items():
        assert np.array_equal(written[name], tensor.numpy())
    assert f"Exported the {which} weights" in panel.message.text() and answers.infos


def test_compare_shows_two_runs_side_by_side_with_the_differences_marked(make_app_window, runs_dir):
    slow, fast = train_run(runs_dir, 0.001), train_run(runs_dir, 0.05, epochs=3)
    w = make_app_window("moons_mlp")
    panel = w.runs_panel
    panel.refresh()
    panel.select(slow)
    assert not panel.compare_button.isEnabled()
    for i in range(2):
        panel.tree.topLevelItem(i).setSelected(True)
    assert panel.compare_button.isEnabled()
    panel.compare_button.click()
    dialog = panel.comparison
    rows = {r[1]: r for r in dialog.rows()}
    assert rows["lr"] == ["≠", "lr", "0.001", "0.05"]
    assert rows["epochs"][0] == "≠" and rows["epochs"][2:] == ["2", "3"]
    assert rows["batch"][0] == "" and rows["batch"][2] == rows["batch"][3] == "16"
    assert rows["blocks"][0] == "" and rows["blocks"][2].startswith("dense(")
    assert rows["dataset"][2] == "vec" and rows["run"][2:] == [slow.name, fast.name]
    bold = dialog.table.item([r[1] for r in dialog.rows()].index("lr"), 1).font().bold()
    assert bold  # marked by a sign and by weight, not by colour alone
    dialog.only_differences.setChecked(True)
    assert {r[1] for r in dialog.rows()} >= {"lr", "epochs"}
    assert all(r[0] == "≠" for r in dialog.rows())
    dialog.close()


def test_ticked_recurrent_runs_draw_their_gradient_through_time(make_app_window, runs_dir):
    rnn, lstm = train_recurrent(runs_dir, "rnn", 0.01), train_recurrent(runs_dir, "lstm", 0.02)
    mlp = train_run(runs_dir, 0.01)  # no recurrent block: nothing through time
    w = make_app_window("moons_mlp")
    panel, view = w.runs_panel, w.dashboard.gradients
    panel.set_gradient_view(view)
    panel.refresh()
    for run in (rnn, lstm, mlp):
        panel.set_ticked(run, True)
    saved = read_probes(lstm)[0]["time_gradients"][1][0]
    labels = panel.overlay_labels()  # named as on the Loss curves, by what differs
    names = panel.show_time_gradients()
    assert names == [f"{labels[0]} · rnn1", f"{labels[1]} · lstm1"] and saved.block_id == "lstm1"
    assert "lr 0.02" in labels[1]
    drawn = view.previous_time_gradients[names[1]]
    assert np.allclose(drawn, saved.grad_norm)
    curve = next(c for c in view.time_plot.listDataItems() if c.name() == names[1])
    assert curve.opts["pen"].color().name() == panel.overlays[lstm].colour.lower()
    assert curve.opts["pen"].width() == 1  # thin, as the curve overlays
    assert names[1] in [label.text for _s, label in view.time_legend.items]

    panel.set_ticked(rnn, False)
    assert panel.show_time_gradients() == [names[1]]
    assert names[0] not in [c.name() for c in view.time_plot.listDataItems()]


def test_ticking_reads_the_cache_and_a_torn_cache_draws_the_same_curves(make_app_window, runs_dir):
    from engine.runs.columns import METRICS_CACHE
    from engine.runs.folder import read_metrics

    good, torn = train_run(runs_dir, 0.001), train_run(runs_dir, 0.05)
    (torn / METRICS_CACHE).write_bytes(b"not a zip")
    w = make_app_window("moons_mlp")
    panel = w.runs_panel
    panel.refresh()
    panel.set_ticked_runs([good, torn], True)  # both at once, as opening a project can
    assert panel.overlay_labels() == ["lr 0.001", "lr 0.05"] and panel.message.text() == ""
    for run in (good, torn):
        steps = read_metrics(run).steps
        drawn = panel.overlays[run].train_loss
        assert np.array_equal(drawn.x, [r["step"] for r in steps])
        assert np.array_equal(drawn.y, [r["loss"] for r in steps])
    assert (torn / METRICS_CACHE).read_bytes()[:2] == b"PK"  # rewritten from metrics.jsonl
    panel.set_ticked_runs([good, torn], False)
    assert panel.overlay_labels() == []


def test_runs_without_a_recurrent_block_leave_the_gradient_view_empty(make_app_window, runs_dir):
    mlp = train_run(runs_dir, 0.01)
    w = make_app_window("moons_mlp")
    panel, view = w.runs_panel, w.dashboard.gradients
    panel.set_gradient_view(view)
    panel.refresh()
    panel.set_ticked(mlp, True)
    assert panel.show_time_gradients() == []
    view.repaint_now()
    assert view.stack.currentWidget() is view.empty_label  # still says how to get data
