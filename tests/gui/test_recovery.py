"""Autosave and recovery in the window (gui/recovery.py): written only when the work changed,
removed when it is saved, discarded or quit cleanly; at launch Recover / Discard / Later; a bad
recovery folder is a sentence; a run saved while training is moved into the project at its end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from engine.project import PROJECT_FILE, RUNS_FOLDER, read_project
from engine.recovery import PROJECT_DIR, RECOVERY_FILE, recovery_root, write_recovery
from engine.runs.folder import RUN_FILE
from gui.recovery import DISCARD, LATER, RECOVER, offer_recovery
from tests.engine.test_recovery import crashed
from tests.gui.test_project_files import (
    RUN_TIMEOUT_MS,
    finished_run,
    save_dialog_answers,
    trained_weights,
)


def recovery_meta(autosave) -> dict:
    autosave.wait()
    return json.loads((autosave.folder / RECOVERY_FILE).read_text())


def autosaved(autosave):
    """The autosaved project, once the writer thread has written what was asked."""
    autosave.wait()
    return read_project(autosave.folder / PROJECT_DIR)


def on_disk(autosave) -> bool:
    autosave.wait()
    return autosave.exists


def test_autosave_is_written_only_when_the_work_changed(make_app_window, data_dir):
    w = make_app_window("moons_mlp")
    doc, autosave = w.document, w.files.autosave
    assert autosave.folder.parent == recovery_root()
    doc.new(doc.spec)  # clean and untitled: nothing to keep
    assert not autosave.tick() and not on_disk(autosave)
    doc.set_params(0, {"units": 24})
    assert autosave.tick() and autosaved(autosave).spec == doc.spec
    meta = recovery_meta(autosave)
    assert meta["saved_at"] and meta["original"] is None and meta["runs"] == []
    assert meta["pid"] == os.getpid() and meta["live_run"] is None
    assert not autosave.tick()  # nothing changed since
    w.dashboard.panel.set_settings({"lr": 0.125})
    assert autosave.tick()  # the panel's settings are part of the work
    assert autosaved(autosave).training["lr"] == 0.125
    weights = trained_weights(doc.spec)
    doc.set_weights(weights)
    assert autosave.tick() and not autosave.tick()
    kept = autosaved(autosave).weights
    assert all(np.array_equal(kept[k], v) for k, v in weights.items())
    run = finished_run(data_dir / "runs", "moons-run")
    doc.add_run(run)
    assert autosave.tick() and recovery_meta(autosave)["runs"] == [str(run)]


def test_the_autosave_goes_when_the_work_is_saved_discarded_or_quit(
    make_app_window, answers, data_dir, monkeypatch, tmp_path
):
    w = make_app_window("moons_mlp")
    doc, files, autosave = w.document, w.files, w.files.autosave
    doc.set_params(0, {"units": 24})
    assert autosave.tick()
    save_dialog_answers(monkeypatch, tmp_path / "saved.layerlab")
    assert files.save() and not on_disk(autosave)  # saved: nothing left to recover
    doc.set_params(0, {"units": 20})
    assert autosave.tick() and recovery_meta(autosave)["original"] == str(doc.path)
    assert files.new() and not on_disk(autosave)  # answered Discard
    doc.insert_block(0, "dense")  # New gave an empty model
    assert autosave.tick() and on_disk(autosave)
    assert w.close() and not on_disk(autosave)  # quit, answered Discard
    assert not autosave.tick() and not on_disk(autosave)  # a closed window writes nothing


def crashed_session(data_dir, spec, **work):
    folder = recovery_root() / "crashed-session"
    write_recovery(folder, spec, **{"original": None, "training": {}, "weights": None, **work})
    crashed(folder)
    return folder


def test_later_keeps_it_discard_deletes_it(make_app_window, data_dir):
    w = make_app_window("moons_mlp")
    spec = w.document.spec.with_params(0, {"units": 7})
    folder = crashed_session(data_dir, spec)
    asked = []
    assert offer_recovery(w, lambda _w, entry: asked.append(entry.folder) or LATER) == [LATER]
    assert asked == [folder] and folder.exists() and w.document.spec != spec
    assert offer_recovery(w, lambda *_: DISCARD) == [DISCARD]
    assert not folder.exists() and offer_recovery(w, lambda *_: RECOVER) == []


def test_recover_opens_the_work_unsaved_with_its_weights_settings_and_runs(
    make_app_window, answers, data_dir, monkeypatch, tmp_path
):
    w = make_app_window("moons_mlp")
    doc, files = w.document, w.files
    save_dialog_answers(monkeypatch, tmp_path / "moons.layerlab")
    assert files.save()
    original = doc.path
    edited = doc.spec.with_params(0, {"units": 9})
    weights = trained_weights(edited)
    run = finished_run(data_dir / "runs", "moons-run")
    folder = crashed_session(
        data_dir, edited, original=original, training={"lr": 0.25, "epochs": 4},
        weights=weights, runs=[run],
    )  # fmt: skip
    assert files.new()
    question = []

    def ask(_window, entry):
        from gui.recovery import describe

        question.append(describe(entry))
        return RECOVER

    assert offer_recovery(w, ask) == [RECOVER]
    assert question[0].startswith("LayerLab quit unexpectedly. Recover the unsaved work of ")
    assert "'moons.layerlab', with 1 run from " in question[0]
    assert doc.spec == edited and doc.path == original and doc.unsaved_runs == (run,)
    assert all(np.array_equal(doc.weights[k], v) for k, v in weights.items())
    assert w.isWindowModified() and w.windowTitle().startswith("moons.layerlab[*]")
    assert w.dashboard.panel.settings()["lr"] == 0.25 and not answers.errors
    # The work now lives in this session's autosave; the crashed session's folder is gone.
    assert on_disk(files.autosave) and not folder.exists()
    assert files.save() and not w.isWindowModified()  # a real project, in place
    project = read_project(original)
    assert project.spec == edited and [r.name for r in project.runs] == ["moons-run"]
    assert not on_disk(files.autosave)


def test_a_bad_recovery_folder_is_a_sentence_and_the_launch_goes_on(
    make_app_window, answers, data_dir
):
    w = make_app_window("moons_mlp")
    bad = recovery_root() / "bad-session"
    bad.mkdir(parents=True)
    (bad / RECOVERY_FILE).write_text("{truncated")
    good = crashed_session(data_dir, w.document.spec.with_params(0, {"units": 5}))
    damaged = recovery_root() / "damaged-session"
    good.rename(damaged)
    (damaged / PROJECT_DIR / PROJECT_FILE).write_text("[]")  # readable, but no project
    asked = []
    assert offer_recovery(w, lambda _w, e: asked.append(e) or RECOVER) == [RECOVER]
    assert str(bad / RECOVERY_FILE) in answers.infos[0]
    assert "not a LayerLab project" in answers.infos[1]
    assert not bad.exists() and (recovery_root() / "bad-session.unreadable").exists()
    assert (recovery_root() / "damaged-session.unreadable").exists()
    assert w.document.spec.blocks[0].params["units"] == 32  # the window's model is as it was
    assert offer_recovery(w) == []  # set aside: not offered again


def test_a_run_saved_while_training_is_moved_into_the_project_when_it_ends(
    make_app_window, answers, qtbot, data_dir, monkeypatch, tmp_path
):
    w = make_app_window("moons_mlp")
    board, doc, files = w.dashboard, w.document, w.files
    doc.new(doc.spec)  # untitled and clean: its runs go to the data directory
    board.panel.set_settings({"epochs": 100000})
    board.settings_overrides = {"probes": False}
    with qtbot.waitSignal(board.controller.run_started, timeout=RUN_TIMEOUT_MS) as started:
        board.train()
    # In the user's data directory: the one the training process's server was started with.
    run = Path(started.args[0].run_folder)
    assert run.parent.name == "runs" and "live.layerlab" not in str(run)
    save_dialog_answers(monkeypatch, tmp_path / "live.layerlab")
    assert files.save()
    assert "still being written" in answers.infos[-1] and w.isWindowModified()
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.stop()
    qtbot.waitUntil(lambda: not w.isWindowModified(), timeout=RUN_TIMEOUT_MS)
    moved = tmp_path / "live.layerlab" / RUNS_FOLDER / run.name
    project = read_project(tmp_path / "live.layerlab")
    assert [r.path for r in project.runs] == [moved] and project.runs[0].status == "stopped"
    assert all(np.array_equal(project.weights[k], v) for k, v in doc.weights.items())
    assert not doc.unsaved_runs and not on_disk(files.autosave)
    assert "now saved in the project" in w.statusBar().currentMessage()


def test_a_run_that_ends_after_more_edits_is_moved_in_and_the_edits_stay_unsaved(
    make_app_window, answers, qtbot, data_dir, monkeypatch, tmp_path
):
    w = make_app_window("moons_mlp")
    board, doc, files = w.dashboard, w.document, w.files
    doc.new(doc.spec)
    board.panel.set_settings({"epochs": 100000})
    board.settings_overrides = {"probes": False}
    with qtbot.waitSignal(board.controller.run_started, timeout=RUN_TIMEOUT_MS) as started:
        board.train()
    save_dialog_answers(monkeypatch, tmp_path / "edited.layerlab")
    assert files.save()
    doc.set_dataset("moons", {"noise": 0.3})  # an edit after Save
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.stop()
    qtbot.waitUntil(lambda: not doc.unsaved_runs, timeout=RUN_TIMEOUT_MS)
    name = started.args[0].run_folder.split("/")[-1]
    assert (tmp_path / "edited.layerlab" / RUNS_FOLDER / name / RUN_FILE).exists()
    assert doc.unsaved_work() == ["changes to the model", "trained weights"]
    assert read_project(tmp_path / "edited.layerlab").spec.dataset_options == {}


def test_the_timer_autosaves_at_the_interval_the_environment_sets(
    make_app_window, qtbot, data_dir, monkeypatch
):
    monkeypatch.setenv("LAYERLAB_AUTOSAVE_SECONDS", "0.05")
    w = make_app_window("moons_mlp")
    w.document.set_params(0, {"units": 3})
    qtbot.waitUntil(lambda: (w.files.autosave.folder / RECOVERY_FILE).exists(), timeout=10_000)
    assert autosaved(w.files.autosave).spec == w.document.spec


def test_the_window_main_py_shows_offers_recovery_once_it_is_on_screen(
    qtbot, leak_check, answers, window_settings, data_dir, monkeypatch
):
    import gui.recovery
    from engine.model.examples import example_path
    from engine.model.spec import ModelSpec
    from gui.app import open_window
    from tests.conftest import close_window

    edited = ModelSpec.load(example_path("moons_mlp")).with_params(0, {"units": 6})
    crashed_session(data_dir, edited)
    shown_first = []

    def ask(window, _entry):
        shown_first.append(window.isVisible())
        return RECOVER

    monkeypatch.setattr(gui.recovery, "ask_to_recover", ask)
    _app, window = open_window(example="moons_mlp", settings=window_settings)
    try:
        qtbot.waitUntil(lambda: shown_first == [True])
        assert window.document.spec == edited and window.isWindowModified()
    finally:
        close_window(window)


def test_an_autosave_that_cannot_be_written_is_a_status_sentence_and_is_tried_again(
    make_app_window, tmp_path, monkeypatch
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data directory should be")
    monkeypatch.setenv("LAYERLAB_DATA_DIR", str(blocked))
    w = make_app_window("moons_mlp")
    autosave = w.files.autosave
    w.document.set_params(0, {"units": 11})
    assert autosave.tick()
    autosave.wait()
    assert autosave.tick()  # the failure is shown, and the same work is written again
    message = w.statusBar().currentMessage()
    assert message.startswith("Cannot autosave the unsaved work to ") and str(blocked) in message
    autosave.wait()
