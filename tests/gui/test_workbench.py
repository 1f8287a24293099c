"""The assembled window: dataset choice as an undoable model edit, trained weights kept on the
document for export, and File > Export / Import weights wired to them."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QFileDialog

from engine.export.weights import read_weights
from engine.model.examples import example_path
from engine.model.spec import ModelSpec

RUN_TIMEOUT_MS = 60_000


def test_every_panel_is_docked_and_file_menu_has_export(workbench):
    titles = {a.text() for a in workbench.file_menu.actions()}
    assert {"&Export…", "&Import Weights…"} <= titles
    assert workbench.dataset_dock.widget() is workbench.dataset_panel
    assert "Training" in workbench.dashboard.docks


def test_choosing_a_dataset_in_the_training_panel_is_an_undoable_edit(workbench):
    doc, combo = workbench.document, workbench.dashboard.panel.dataset_combo
    assert doc.spec.dataset == "digits"
    combo.setCurrentIndex(combo.findData("shapes"))
    combo.activated.emit(combo.currentIndex())
    assert doc.spec.dataset == "shapes" and doc.is_modified
    doc.undo_stack.undo()
    assert doc.spec.dataset == "digits"
    assert combo.currentData() == "digits"


def test_dataset_panel_choice_becomes_the_models_dataset(workbench, qtbot):
    panel, doc = workbench.dataset_panel, workbench.document
    with qtbot.waitSignal(panel.dataset_chosen, timeout=RUN_TIMEOUT_MS):
        panel.load_builtin("moons", {"n_samples": 200})
    assert doc.spec.dataset == "moons" and doc.spec.dataset_options["n_samples"] == 200
    assert workbench.dashboard.panel.dataset_id == "moons"


def test_trained_weights_are_kept_while_they_fit_and_exported(
    workbench, answers, qtbot, monkeypatch, tmp_path
):
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


def test_import_weights_puts_them_on_the_document(workbench, monkeypatch, tmp_path):
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


def test_opening_a_recurrent_model_brings_its_gates_forward(workbench, qtbot):
    docks = workbench.dashboard.docks
    qtbot.waitUntil(lambda: docks["Filters"].widget().is_on_screen(), timeout=5000)
    assert not docks["Gates"].widget().is_on_screen()  # same tab group, behind Filters
    workbench.document.new(ModelSpec.load(example_path("memory_lstm")))
    qtbot.waitUntil(lambda: docks["Gates"].widget().is_on_screen(), timeout=5000)
    assert not docks["Filters"].widget().is_on_screen()
