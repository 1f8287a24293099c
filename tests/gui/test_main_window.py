"""The main window around the canvas: validity and the Train action, fixes, templates, files,
unsaved-changes questions, recent files, docks added by other panels."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget, QLabel, QMessageBox

from engine.model.examples import list_examples
from engine.model.spec import ModelSpec

# Each test's window is closed after it; nothing it opened or started may outlive it.
pytestmark = pytest.mark.usefixtures("leak_check")


def test_invalid_edit_marks_the_block_disables_train_and_fix_repairs(main_window, qtbot):
    w = main_window
    assert w.train_action.isEnabled()
    w.document.remove_blocks([w.document.spec.index_of("flatten1")])
    card = w.scene.card("dense1")
    assert card.content.state == "error"
    assert "Flatten" in card.toolTip()
    assert w.scene.card("relu3").content.state == "unchecked"
    assert not w.train_action.isEnabled()
    assert "insert Flatten" in w.train_action.toolTip()
    assert "✗" in w.validity_label.text()
    rows = w.problems.rows
    assert "dense1" in rows[0].label.text() and rows[0].fix_button is not None
    broken = w.document.spec
    qtbot.mouseClick(rows[0].fix_button, Qt.MouseButton.LeftButton)
    assert w.document.inference.valid
    assert w.train_action.isEnabled() and w.train_action.toolTip() == "Train this model"
    assert w.scene.card("dense1").content.state == "ok"
    assert w.document.undo_stack.undoText() == "Fix: Insert Flatten before it"
    w.document.undo_stack.undo()  # the fix was one undoable edit
    assert w.document.spec == broken


def test_inspector_offers_the_fix_too(main_window, qtbot):
    w = main_window
    w.document.insert_block(0, "lstm")
    w.document.set_selection(["lstm1"])
    assert w.inspector.error.isVisibleTo(w.inspector)
    assert "LSTM needs a sequence" in w.inspector.error.text()
    assert not w.inspector.fix_button.isVisibleTo(w.inspector)  # no automatic fix for this one


def test_every_template_loads_valid(main_window):
    w = main_window
    examples = list_examples()
    ids = {e.id for e in examples}
    assert {
        "digits_cnn",
        "shapes_cnn",
        "sine_lstm",
        "memory_rnn",
        "memory_lstm",
        "moons_mlp",
        "deep_plain",
        "deep_residual",
    } <= ids
    actions = w.files.examples_menu.actions()
    assert [a.data() for a in actions] == [e.id for e in examples]
    for action in actions:
        action.trigger()
        spec = w.document.spec
        assert w.document.inference.valid, (action.data(), w.document.inference.problem)
        assert w.train_action.isEnabled()
        walked = [b.id for top in spec.blocks for b in top.walk()]  # residual blocks' inner ones
        assert w.scene.ordered_keys() == ["<input>", *walked]
        assert all(w.scene.card(k).content.state == "ok" for k in walked)
        assert w.document.path is None and not w.isWindowModified()


def test_bad_file_shows_the_error_and_keeps_the_model(main_window, answers, tmp_path):
    w = main_window
    w.document.remove_blocks([0])  # unsaved work the failed open must not lose
    before = w.document.spec
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"format": "layerlab-model", "version": 1, "input": {"kind": "image", "shape": [1, 8, 8]},'
        ' "blocks": [{"id": "x1", "type": "teleporter"}]}',
        encoding="utf-8",
    )
    assert not w.files.open_path(bad)
    assert len(answers.errors) == 1
    assert (
        "unknown block type 'teleporter'" in answers.errors[0] and "bad.json" in answers.errors[0]
    )
    assert w.document.spec == before
    assert w.isWindowModified()
    assert not w.files.open_path(tmp_path / "missing.json")
    assert "does not exist" in answers.errors[1]


def test_open_save_title_and_recent_files(main_window, answers, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from gui.file_actions import MODEL_FILTER

    w = main_window
    target = tmp_path / "mine"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), MODEL_FILTER))
    )
    w.document.remove_blocks([0])
    assert w.isWindowModified()
    assert w.files.save()  # no path yet: Save asks where (Save As); the model filter adds .json
    saved = tmp_path / "mine.json"
    assert ModelSpec.load(saved) == w.document.spec
    assert not w.isWindowModified()
    assert w.windowTitle() == "mine.json[*] — LayerLab"
    assert w.files.recent_files()[0] == str(saved.resolve())
    other = tmp_path / "other.json"
    ModelSpec().save(other)
    assert w.files.open_path(other)
    assert w.document.spec.blocks == ()
    assert w.files.recent_files()[:2] == [str(other.resolve()), str(saved.resolve())]
    recent = [a for a in w.files.recent_menu.actions() if a.data()]
    assert [a.data() for a in recent] == w.files.recent_files()
    recent[1].trigger()
    assert w.document.path == saved.resolve()
    for i in range(12):
        path = tmp_path / f"m{i}.json"
        ModelSpec().save(path)
        w.files.open_path(path)
    assert len(w.files.recent_files()) == 8


def test_unsaved_changes_are_asked_about(main_window, answers, tmp_path):
    w = main_window
    other = tmp_path / "other.json"
    ModelSpec().save(other)
    w.document.remove_blocks([0])
    changed = w.document.spec
    answers.question = QMessageBox.StandardButton.Cancel
    assert not w.files.open_path(other)
    assert w.document.spec == changed and len(answers.asked) == 1
    assert not w.close()  # Cancel keeps the window open
    answers.question = QMessageBox.StandardButton.Discard
    assert w.files.open_path(other)
    assert w.document.spec == ModelSpec.load(other)
    assert not w.files.new() or w.document.spec.blocks == ()


def test_undo_texts_and_shortcuts(main_window):
    w = main_window
    original = w.document.spec
    w.document.remove_blocks([w.document.spec.index_of("dropout1")])
    assert w.undo_action.text() == "&Undo Delete dropout1"
    assert [s.toString() for s in w.undo_action.shortcuts()] == ["Ctrl+Z"]
    assert "Ctrl+Shift+Z" in [s.toString() for s in w.redo_action.shortcuts()]
    w.activateWindow()
    w.view.setFocus()
    QTest.keyClick(w.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.document.spec == original
    assert w.redo_action.text() == "&Redo Delete dropout1"


def test_add_dock_gets_a_view_toggle(main_window, qtbot):
    w = main_window
    dock = w.add_dock("Dataset", QLabel("data"), Qt.DockWidgetArea.LeftDockWidgetArea)
    qtbot.waitUntil(dock.isVisible, timeout=1000)
    assert isinstance(dock, QDockWidget) and dock.objectName() == "dock_dataset"
    texts = [a.text() for a in w.view_menu.actions()]
    assert {"Blocks", "Inspector", "Problems", "Dataset"} <= set(texts)
    toggle = next(a for a in w.view_menu.actions() if a.text() == "Dataset")
    toggle.trigger()
    assert dock.isHidden()
    w.reset_layout()
    assert not dock.isHidden()


def test_status_bar_shows_parameters_and_validity(main_window):
    w = main_window
    assert w.params_label.text() == f"Parameters: {w.document.inference.total_params:,}"
    assert w.validity_label.text().startswith("✓")
    w.document.new(ModelSpec())
    assert w.validity_label.text().startswith("✗") and "no blocks" in w.train_action.toolTip()


def test_dock_layout_is_remembered(qtbot, answers, window_settings):
    from gui.editor.document import ModelDocument
    from gui.main_window import MainWindow

    first = MainWindow(ModelDocument(), window_settings)
    qtbot.addWidget(first)
    first.show()
    first.problems_dock.hide()
    assert first.close()
    second = MainWindow(ModelDocument(), window_settings)
    qtbot.addWidget(second)
    second.show()
    assert second.problems_dock.isHidden() and not second.inspector_dock.isHidden()
    second.reset_layout()
    assert not second.problems_dock.isHidden()
