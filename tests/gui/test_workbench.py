"""The assembled window: dataset choice as an undoable model edit, trained weights kept on the
document for export, and File > Export / Import weights wired to them."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QFileDialog

from engine.export.weights import read_weights
from engine.model.examples import example_path
from engine.model.spec import ModelSpec

RUN_TIMEOUT_MS = 60_000


def test_every_panel_is_docked_and_file_menu_has_export(make_app_window):
    workbench = make_app_window()
    titles = {a.text() for a in workbench.file_menu.actions()}
    assert {"&Export…", "&Import Weights…"} <= titles
    assert workbench.dataset_dock.widget().widget() is workbench.dataset_panel  # scrolled
    assert "Training" in workbench.dashboard.docks


def test_dataset_panel_choice_becomes_the_models_dataset_in_one_undo_step(make_app_window, qtbot):
    workbench = make_app_window()
    panel, doc = workbench.dataset_panel, workbench.document
    assert doc.spec.dataset == "digits"
    with qtbot.waitSignal(workbench.dataset_session.dataset_chosen, timeout=RUN_TIMEOUT_MS):
        panel.load_builtin("moons", {"n_samples": 200})
    assert doc.spec.dataset == "moons" and doc.spec.dataset_options["n_samples"] == 200
    assert doc.is_modified
    # The training panel shows the dataset Train will use; it is not a second picker.
    training = workbench.dashboard.panel
    assert training.dataset_id == "moons" and training.dataset_label.text() == "Two moons"
    doc.undo_stack.undo()
    assert doc.spec.dataset == "digits" and training.dataset_id == "digits"
    # Undo is an edit of the spec: the session follows it back to digits.
    qtbot.waitUntil(lambda: workbench.dataset_session.source.name == "digits", timeout=10_000)


def test_one_dataset_session_serves_the_panel_and_train(make_app_window, qtbot):
    workbench = make_app_window()
    session, board = workbench.dataset_session, workbench.dashboard
    assert workbench.dataset_panel.session is session and board.session is session
    qtbot.waitUntil(lambda: session.dataset is not None, timeout=RUN_TIMEOUT_MS)
    loads = []
    session.load_started.connect(lambda *args: loads.append(args))
    board.panel.epochs_spin.setValue(1)
    board.settings_overrides = {"probes": False}
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
    assert loads == []  # Train used the panel's dataset: no second load
    assert board.dataset is session.dataset


def test_a_model_opened_from_another_folder_trains_on_the_data_beside_it(
    make_app_window, qtbot, tmp_path, monkeypatch
):
    workbench = make_app_window()
    from tests.engine._train_fixtures import model_beside_its_data

    sub = model_beside_its_data(tmp_path / "sub").parent
    monkeypatch.chdir(tmp_path)  # data.npz is not in the current folder
    board = workbench.dashboard
    board.panel.epochs_spin.setValue(1)
    board.settings_overrides = {"probes": False}
    workbench.document.open("sub/model.json")
    # Train at once, while the session may still be loading: Train waits for that load.
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        board.train()
    assert board.dataset.source == str(sub / "data.npz")
    assert board.panel.state == "idle"
    # Saving keeps the model's dataset path as written, relative to the model file.
    workbench.document.save()
    assert ModelSpec.load(sub / "model.json").dataset == "data.npz"


def test_train_fails_with_the_loads_message_when_the_data_is_missing(
    make_app_window, qtbot, tmp_path
):
    workbench = make_app_window()
    spec = ModelSpec.load(example_path("moons_mlp"))
    spec = type(spec)(spec.input, spec.blocks, "lost", "gone.npz", {})
    spec.save(tmp_path / "model.json")
    workbench.document.open(tmp_path / "model.json")
    board = workbench.dashboard
    board.train()
    qtbot.waitUntil(lambda: board.panel.state == "idle", timeout=RUN_TIMEOUT_MS)
    message = board.panel.status_label.text()
    assert str(tmp_path / "gone.npz") in message and "neither a built-in dataset" in message


def test_trained_weights_are_kept_while_they_fit_and_exported(
    make_app_window, answers, qtbot, monkeypatch, tmp_path
):
    workbench = make_app_window()
    board, doc = workbench.dashboard, workbench.document
    board.panel.epochs_spin.setValue(1)
    board.settings_overrides = {"probes": False}
    with qtbot.waitSignal(board.controller.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        board.train()
    trained = finished.args[0].weights
    assert doc.weights is not None and set(doc.weights) == set(trained)

    out = tmp_path / "trained.safetensors"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), ""))
    )
    workbench.export_action.trigger()
    written = read_weights(out)
    np.testing.assert_array_equal(written["conv1.weight"], trained["conv1.weight"])
    assert "initial" not in answers.infos[-1].lower()

    # An edit of the architecture makes the weights stale; undoing it makes them fit again.
    doc.set_params(doc.spec.index_of("conv1"), {"out_channels": 8})
    assert doc.weights is None
    doc.undo_stack.undo()
    assert doc.weights is not None


def test_import_weights_puts_them_on_the_document(make_app_window, monkeypatch, tmp_path):
    workbench = make_app_window()
    from engine.export.formats import export_weights

    source = tmp_path / "w.safetensors"
    export_weights(workbench.document.spec, None, source)
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(source), ""))
    )
    workbench.import_weights_action.trigger()
    assert workbench.document.weights is not None
    assert set(workbench.document.weights) == set(read_weights(source))


def test_an_unexpected_error_in_a_slot_is_shown_not_fatal(answers):
    from gui.app import _report_unexpected_error

    hook = _report_unexpected_error(None)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        hook(type(exc), exc, exc.__traceback__)
    assert "RuntimeError: boom" in answers.errors[-1]
    assert "save it" in answers.errors[-1]


def test_train_brings_the_training_tab_forward_over_blocks(make_app_window, qtbot, tmp_path):
    workbench = make_app_window()
    panel, palette = workbench.dashboard.panel, workbench.palette
    # Blocks, Dataset and Training share the left column; Blocks is in front for building.
    tabbed = workbench.tabifiedDockWidgets(workbench.palette_dock)
    assert {workbench.dataset_dock, workbench.dashboard.docks["Training"]} <= set(tabbed)
    qtbot.waitUntil(lambda: not palette.visibleRegion().isEmpty(), timeout=5000)
    assert panel.visibleRegion().isEmpty()
    # A data file that is not there: the run fails at once, without a training process.
    workbench.document.set_dataset(str(tmp_path / "gone.npz"))
    workbench.train_action.trigger()
    qtbot.waitUntil(lambda: panel.shows_error, timeout=RUN_TIMEOUT_MS)
    assert not panel.visibleRegion().isEmpty() and palette.visibleRegion().isEmpty()
    # Closed from the View menu, the Training panel comes back when Train is pressed.
    workbench.dashboard.docks["Training"].close()
    qtbot.waitUntil(lambda: panel.visibleRegion().isEmpty(), timeout=5000)
    workbench.train_action.trigger()
    qtbot.waitUntil(lambda: not panel.visibleRegion().isEmpty(), timeout=5000)
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=RUN_TIMEOUT_MS)  # failed again


def test_reset_layout_puts_back_the_left_column(make_app_window, qtbot):
    workbench = make_app_window()
    docks = workbench.dashboard.docks
    docks["Training"].setFloating(True)
    workbench.reset_layout()
    assert not docks["Training"].isFloating()
    assert docks["Training"] in workbench.tabifiedDockWidgets(workbench.palette_dock)


def test_the_app_asks_qt_to_paint_on_the_gui_thread_only_unless_the_user_chose(qapp, monkeypatch):
    """Qt's GUI thread pool would compete with the training process for the cores (README
    "Performance"); a value the user set is left alone."""
    import gui.app

    monkeypatch.delenv("QT_NO_GUI_THREADPOOL", raising=False)
    assert gui.app._application() is qapp
    assert gui.app.os.environ["QT_NO_GUI_THREADPOOL"] == "1"
    monkeypatch.setenv("QT_NO_GUI_THREADPOOL", "0")
    gui.app._application()
    assert gui.app.os.environ["QT_NO_GUI_THREADPOOL"] == "0"
