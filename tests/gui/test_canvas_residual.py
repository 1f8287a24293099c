"""The residual block on the canvas, through real events: a group card with its inner cards and
skip, palette drops and card drags into, out of and within it, delete, the inspector and the
problems list inside it; each edit one undo step, undone and redone with the spec compared."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.model.spec import ModelSpec
from gui.editor.canvas import look

pytestmark = pytest.mark.usefixtures("leak_check")

MODEL = ModelSpec.from_dict({
    "format": "layerlab-model", "version": 2, "name": "residual on the canvas",
    "input": {"kind": "vector", "shape": [4]},
    "blocks": [
        {"id": "dense1", "type": "dense", "params": {"units": 8}},
        {"id": "residual1", "type": "residual", "params": {}, "blocks": [
            {"id": "dense2", "type": "dense", "params": {"units": 8}},
            {"id": "tanh1", "type": "tanh", "params": {}},
        ]},
        {"id": "dense3", "type": "dense", "params": {"units": 2}},
    ],
})  # fmt: skip


@pytest.fixture
def window(main_window):
    main_window.document.new(MODEL)
    return main_window


def _point(w, scene_y: float):
    return w.view.mapFromScene(QPointF(0, scene_y))


def _check_undo_redo(w, before: ModelSpec, after: ModelSpec) -> None:
    stack = w.document.undo_stack
    assert stack.count() == 1  # one edit, one undo step
    assert w.document.spec == after
    stack.undo()
    assert w.document.spec.to_json() == before.to_json()
    stack.redo()
    assert w.document.spec.to_json() == after.to_json()


def _drop(w, type_id: str, scene_y: float) -> None:
    viewport, pos = w.view.viewport(), _point(w, scene_y)
    mime = w.palette.mime_data_for(type_id)
    for event in (
        QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                        Qt.KeyboardModifier.NoModifier),
        QDragMoveEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier),
    ):  # fmt: skip
        QApplication.sendEvent(viewport, event)
        assert event.isAccepted()
    assert w.scene.drop_indicator.y() == pytest.approx(scene_y)
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(viewport, drop)


def _drag_card(w, key: str, to_y: float) -> None:
    viewport = w.view.viewport()
    centre = w.scene.card(key).y() + look.BLOCK_HEIGHT / 2
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     _point(w, centre))  # fmt: skip
    for y in (centre + 12, (centre + to_y) / 2, to_y):
        QTest.mouseMove(viewport, _point(w, y))
    assert w.document.undo_stack.count() == 0  # nothing reaches the document while dragging
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       _point(w, to_y))  # fmt: skip


def _inner(spec: ModelSpec) -> list[str]:
    return [b.id for b in spec.block_at(spec.path_of("residual1")).blocks]


def test_the_residual_block_is_a_group_card_around_its_inner_cards(window):
    w = window
    assert w.scene.ordered_keys() == ["<input>", "dense1", "residual1", "dense2", "tanh1", "dense3"]
    frame = w.scene.frame("residual1").sceneBoundingRect()
    for key in ("residual1", "dense2", "tanh1"):
        assert frame.contains(w.scene.card(key).sceneBoundingRect())
    for key in ("dense1", "dense3"):
        assert not frame.intersects(w.scene.card(key).sceneBoundingRect())
    assert "skip: identity" in w.scene.card("residual1").content.summary
    w.document.set_params((1, 0), {"units": 6})  # the inner stack now changes the shape
    assert w.scene.frame("residual1").group.join == "Linear 8→6"
    assert "skip: Linear 8→6" in w.scene.card("residual1").content.summary
    item = w.palette.item_for("residual")  # offered in Core, like any block
    assert item.text(0) == "Residual" and item.parent().text(0).startswith("Core")


def test_drop_from_the_palette_into_the_residual_block(window):
    w = window
    before = w.document.spec
    _drop(w, "relu", w.scene.gap_y((1, 1)))  # between dense2 and tanh1, inside
    after = before.insert_at((1, 1), before.new_block("relu"))
    assert _inner(w.document.spec) == ["dense2", "relu1", "tanh1"]
    assert w.document.selection == ("relu1",)
    _check_undo_redo(w, before, after)


def test_drop_at_the_end_of_the_inner_stack_and_below_the_group(window):
    w = window
    before = w.document.spec
    _drop(w, "relu", w.scene.gap_y((1, 2)))  # above the ⊕: last inside
    assert _inner(w.document.spec) == ["dense2", "tanh1", "relu1"]
    w.document.undo_stack.undo()
    _drop(w, "relu", w.scene.gap_y((2,)))  # below the group: after it
    assert [b.id for b in w.document.spec.blocks] == ["dense1", "residual1", "relu1", "dense3"]
    assert w.document.spec.block_at((1,)).blocks == before.block_at((1,)).blocks


def test_drag_a_card_out_of_the_residual_block(window):
    w = window
    before = w.document.spec
    _drag_card(w, "tanh1", w.scene.card("dense3").y() + look.BLOCK_HEIGHT / 2 + 12)
    assert [b.id for b in w.document.spec.blocks] == ["dense1", "residual1", "dense3", "tanh1"]
    assert _inner(w.document.spec) == ["dense2"]
    _check_undo_redo(w, before, before.move_to((1, 1), (3,)))


def test_drag_a_card_into_the_residual_block(window):
    w = window
    before = w.document.spec
    target = w.scene.gap_y((1, 1))
    _drag_card(w, "dense1", target - look.BLOCK_HEIGHT / 2)  # its centre on the gap
    assert _inner(w.document.spec) == ["dense2", "dense1", "tanh1"]
    _check_undo_redo(w, before, before.move_to((0,), (1, 1)))


def test_a_residual_block_cannot_be_dragged_into_itself(window):
    w = window
    before = w.document.spec
    _drag_card(w, "residual1", w.scene.card("tanh1").y() + look.BLOCK_HEIGHT)
    assert w.document.spec == before and w.document.undo_stack.count() == 0
    assert w.scene.card("residual1").y() == w.scene.layout.row("residual1").top  # snapped back


def test_delete_an_inner_card_and_the_whole_group(window, qtbot):
    w = window
    before = w.document.spec
    w.document.set_selection(["dense2"])
    w.view.setFocus()
    QTest.keyClick(w.view.viewport(), Qt.Key.Key_Delete)
    assert _inner(w.document.spec) == ["tanh1"]
    _check_undo_redo(w, before, before.remove_at((1, 0)))
    w.document.undo_stack.undo()
    w.document.set_selection(["residual1", "tanh1"])
    QTest.keyClick(w.view.viewport(), Qt.Key.Key_Delete)
    assert [b.id for b in w.document.spec.blocks] == ["dense1", "dense3"]


def test_a_problem_inside_is_named_by_its_path_and_fixed_from_the_problems_list(window, qtbot):
    w = window
    w.document.new(ModelSpec.from_dict({
        "format": "layerlab-model", "version": 2, "input": {"kind": "image", "shape": [2, 4, 4]},
        "blocks": [{"id": "residual1", "type": "residual", "params": {}, "blocks": [
            {"id": "conv1", "type": "conv2d", "params": {"out_channels": 2, "kernel_size": 9, "padding": 0}},
        ]}, {"id": "flatten1", "type": "flatten", "params": {}}],
    }))  # fmt: skip
    broken = w.document.spec
    assert w.scene.card("conv1").content.state == "error"
    text = w.problems.rows[0].label.text()
    assert "residual1 › conv1" in text
    qtbot.mouseClick(w.problems.rows[0].fix_button, Qt.MouseButton.LeftButton)
    assert w.document.inference.valid
    assert w.scene.card("conv1").content.state == "ok"
    _check_undo_redo(w, broken, w.document.spec)


def test_the_inspector_edits_an_inner_block_and_shows_the_skip(window):
    w = window
    w.document.set_selection(["residual1"])
    assert "skip: <b>identity</b>" in w.inspector.shapes.text()
    w.document.set_selection(["dense2"])
    before = w.document.spec
    w.inspector.editors["units"].setValue(5)
    assert w.document.spec.block_at((1, 0)).params["units"] == 5
    _check_undo_redo(w, before, before.with_params_at((1, 0), {"units": 5}))
