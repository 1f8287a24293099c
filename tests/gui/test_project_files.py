"""Projects in the window: Save / Open bring back the model, its weights, the dataset and the
panel's settings; unsaved weights and runs are asked about; a live run is asked about."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.project import PROJECT_FILE, RUNS_FOLDER, WEIGHTS_FILE, read_project
from engine.runs.folder import RUN_FILE, write_json_atomic

RUN_TIMEOUT_MS = 60_000
SETTINGS = {"optimizer": "sgd", "lr": 0.02, "batch_size": 8, "epochs": 7}


def trained_weights(spec, seed=1):
    import torch

    from engine.nn.build import build_model

    torch.manual_seed(seed)
    return {k: v.numpy().copy() for k, v in build_model(spec).state_dict().items()}


def save_dialog_answers(monkeypatch, target, chosen="LayerLab project (*.layerlab)"):
    asked = []

    def answer(*_args, **_kwargs):
        asked.append(str(target))  # not the arguments: the window would outlive the test
        return str(target), chosen

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    return asked


def finished_run(parent, name):
    folder = parent / name
    folder.mkdir(parents=True)
    write_json_atomic(
        folder / RUN_FILE, {"format": "layerlab.run", "version": 1, "status": "finished"}
    )
    return folder


def test_save_and_reopen_brings_back_weights_settings_dataset_and_runs(
    make_app_window, answers, monkeypatch, tmp_path
):
    w = make_app_window()
    doc, files, panel = w.document, w.files, w.dashboard.panel
    doc.set_dataset("digits", {"seed": 3})
    weights = trained_weights(doc.spec)
    doc.set_weights(weights)
    panel.set_settings(SETTINGS)
    loose = finished_run(tmp_path / "data-dir", "digits-run")
    doc.add_run(loose)
    assert w.isWindowModified()
    assert doc.unsaved_work() == [
        "changes to the model", "trained weights", "1 run not in a project"
    ]  # fmt: skip
    save_dialog_answers(monkeypatch, tmp_path / "digits")
    assert files.save()  # untitled: Save asks where, and makes digits.layerlab
    folder = tmp_path / "digits.layerlab"
    assert doc.path == (folder / PROJECT_FILE).resolve() and doc.project_folder == folder.resolve()
    assert not w.isWindowModified() and w.windowTitle().startswith("digits.layerlab[*]")
    assert (folder / RUNS_FOLDER / "digits-run").is_dir() and not loose.exists()
    assert doc.runs_folder == (folder / RUNS_FOLDER).resolve()
    assert files.run_entries() == ["digits-run · finished"]
    first = (folder / WEIGHTS_FILE).read_bytes()

    assert files.new() and doc.weights is None and not doc.spec.blocks
    panel.set_settings({"optimizer": "adam", "lr": 0.003, "batch_size": 32, "epochs": 10})
    assert files.open_path(folder)
    assert doc.spec.dataset == "digits" and doc.spec.dataset_options == {"seed": 3}
    for name, value in weights.items():
        assert np.array_equal(doc.weights[name], value)
    assert {k: panel.settings()[k] for k in SETTINGS} == SETTINGS
    assert not w.isWindowModified() and not answers.errors
    assert "digits-run (finished)" in w.statusBar().currentMessage()
    assert files.recent_files()[0] == str(folder.resolve())
    assert files.save()  # a project saves in place, asking nothing
    assert (folder / WEIGHTS_FILE).read_bytes() == first


def test_unsaved_weights_are_asked_about_and_cancel_keeps_them(
    make_app_window, answers, monkeypatch, tmp_path
):
    w = make_app_window()
    doc, files = w.document, w.files
    doc.new(doc.spec)  # a clean, untitled model
    assert not w.isWindowModified()
    doc.set_weights(trained_weights(doc.spec))
    assert w.isWindowModified()  # trained weights alone are unsaved work
    answers.question = QMessageBox.StandardButton.Cancel
    assert not files.new() and doc.weights is not None
    assert "trained weights" in answers.asked[-1]
    assert not w.close()
    answers.question = QMessageBox.StandardButton.Save
    save_dialog_answers(monkeypatch, tmp_path / "kept.layerlab")
    assert files.new()  # Save first, then New
    assert read_project(tmp_path / "kept.layerlab").weights is not None
    assert doc.weights is None and not w.isWindowModified()


def test_a_model_file_with_trained_weights_saves_as_a_project(
    make_app_window, answers, monkeypatch, tmp_path
):
    w = make_app_window()
    doc, files = w.document, w.files
    model = tmp_path / "m.json"
    doc.spec.save(model)
    assert files.open_path(model)
    assert files.save()  # only the model to keep: the .json, asking nothing
    doc.set_weights(trained_weights(doc.spec))
    asked = save_dialog_answers(monkeypatch, tmp_path / "m")
    assert files.save() and len(asked) == 1  # weights need a project: Save asks where
    assert doc.project_folder == (tmp_path / "m.layerlab").resolve()


def test_open_a_safetensors_export_and_bad_projects(make_app_window, answers, tmp_path):
    import torch

    from engine.export.formats import export_model
    from engine.nn.build import build_model

    w = make_app_window()
    doc, files = w.document, w.files
    spec = doc.spec
    torch.manual_seed(5)
    model = build_model(spec)
    export_model(model, spec, tmp_path / "cnn.safetensors")
    assert files.open_path(tmp_path / "cnn.safetensors")
    assert doc.spec == spec and doc.path is None and not w.isWindowModified()
    assert np.array_equal(doc.weights["conv1.weight"], model.state_dict()["conv1.weight"].numpy())

    newer = tmp_path / "newer.layerlab"
    newer.mkdir()
    (newer / PROJECT_FILE).write_text('{"format": "layerlab-project", "version": 9}')
    assert not files.open_path(newer)
    assert "newer LayerLab" in answers.errors[-1] and doc.weights is not None  # kept as it was
    assert not files.open_path(tmp_path)  # a folder that is no project
    assert "project.json" in answers.errors[-1]


def test_a_project_with_corrupt_weights_opens_the_rest_and_says_so(
    make_app_window, answers, monkeypatch, tmp_path
):
    w = make_app_window()
    w.document.set_weights(trained_weights(w.document.spec))
    w.dashboard.panel.set_settings(SETTINGS)
    save_dialog_answers(monkeypatch, tmp_path / "p.layerlab")
    assert w.files.save_as()
    (tmp_path / "p.layerlab" / WEIGHTS_FILE).write_bytes(b"broken")
    assert w.files.new()
    assert w.files.open_path(tmp_path / "p.layerlab" / PROJECT_FILE)
    assert w.document.weights is None and w.dashboard.panel.settings()["lr"] == SETTINGS["lr"]
    assert "weights.safetensors" in answers.infos[-1]


def test_closing_during_a_run_asks_to_stop_it_and_the_run_lands_in_the_project(
    make_app_window, answers, qtbot, monkeypatch, tmp_path
):
    w = make_app_window("moons_mlp")
    board, doc = w.dashboard, w.document
    save_dialog_answers(monkeypatch, tmp_path / "live.layerlab")
    assert w.files.save()
    board.panel.set_settings({"epochs": 100000})
    board.settings_overrides = {"probes": False}
    with qtbot.waitSignal(board.controller.run_started, timeout=RUN_TIMEOUT_MS) as started:
        board.train()
    assert started.args[0].run_folder.startswith(str(tmp_path / "live.layerlab" / RUNS_FOLDER))
    answers.question = QMessageBox.StandardButton.Cancel
    assert not w.close()  # Cancel keeps the window and the run
    assert "Stop the run" in answers.asked[-1] and board.is_training
    # Any answer but Cancel stops the run; its weights then are unsaved work, discarded here.
    answers.question = QMessageBox.StandardButton.Discard
    assert w.files.new()
    assert not board.is_training and not doc.spec.blocks
    assert [r.status for r in read_project(tmp_path / "live.layerlab").runs] == ["stopped"]
    assert "trained weights" in answers.asked[-1]
