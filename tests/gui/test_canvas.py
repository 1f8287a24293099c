"""Canvas editing through real events: drop from the palette, drag to reorder, delete,
duplicate and an inspector edit, each followed by undo and redo with the spec compared."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.model.spec import BlockSpec
from gui.editor.canvas import look
from gui.editor.canvas.scene import card_top
from gui.editor.canvas.view import READABLE_TEXT_PX
from gui.editor.document import INPUT_ID

# Each test's window is closed after it; nothing it opened or started may outlive it.
pytestmark = pytest.mark.usefixtures("leak_check")


def view_point(window, scene_y: float, scene_x: float = 0.0) -> QPoint:
    return window.view.mapFromScene(QPointF(scene_x, scene_y))


def check_undo_redo(window, before_json: str, after_json: str) -> None:
    stack = window.document.undo_stack
    assert window.document.spec.to_json() == after_json
    stack.undo()
    assert window.document.spec.to_json() == before_json
    stack.redo()
    assert window.document.spec.to_json() == after_json


def scene_ids(window) -> list[str]:
    return [k for k in window.scene.ordered_keys()[1:] if window.scene.card(k)]


def test_drop_from_palette_inserts_at_the_drop_position(main_window):
    w = main_window
    before = w.document.spec
    mime = w.palette.mime_data_for("dropout")
    assert mime.formats() == ["application/x-layerlab-block-type"]
    assert bytes(mime.data("application/x-layerlab-block-type").data()) == b"dropout"
    pos = view_point(w, w.scene.gap_y(3))  # between block 2 (maxpool1) and block 3 (conv2)
    viewport = w.view.viewport()
    enter = QDragEnterEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, move)
    assert move.isAccepted()
    assert w.scene.drop_indicator.isVisible()
    assert w.scene.drop_indicator.y() == w.scene.gap_y(3)
    drop = QDropEvent(
        QPointF(pos),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, drop)
    assert not w.scene.drop_indicator.isVisible()
    expected = before.insert(3, before.new_block("dropout"))
    assert w.document.spec.blocks[3].type == "dropout"
    assert w.document.selection == (expected.blocks[3].id,)
    assert w.document.undo_stack.count() == 1
    check_undo_redo(w, before.to_json(), expected.to_json())
    assert scene_ids(w) == [b.id for b in expected.blocks]


def test_drag_leave_hides_indicator_and_foreign_drops_are_refused(main_window):
    from PySide6.QtCore import QMimeData

    w = main_window
    viewport = w.view.viewport()
    pos = view_point(w, w.scene.gap_y(1))
    mime = w.palette.mime_data_for("relu")
    QApplication.sendEvent(
        viewport,
        QDragEnterEvent(
            pos,
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    )
    assert w.scene.drop_indicator.isVisible()
    QApplication.sendEvent(viewport, QDragLeaveEvent())
    assert not w.scene.drop_indicator.isVisible()
    text = QMimeData()
    text.setText("dense")
    enter = QDragEnterEvent(
        pos,
        Qt.DropAction.CopyAction,
        text,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, enter)
    assert not enter.isAccepted()
    assert w.document.undo_stack.count() == 0


def test_palette_double_click_appends(main_window, qtbot):
    w = main_window
    before = w.document.spec
    item = w.palette.item_for("gelu")
    rect = w.palette.tree.visualItemRect(item)
    viewport = w.palette.tree.viewport()
    # Qt 6's item views act on a double-click only after a press on the same item.
    QTest.mouseClick(
        viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )
    QTest.mouseDClick(
        viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )
    expected = before.insert(len(before.blocks), before.new_block("gelu"))
    check_undo_redo(w, before.to_json(), expected.to_json())


def test_drag_a_card_down_reorders_in_one_undo_step(main_window):
    w = main_window
    before = w.document.spec
    viewport = w.view.viewport()
    centre = card_top(0) + look.BLOCK_HEIGHT / 2
    start = view_point(w, centre)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    assert w.document.selection == ("conv1",)
    # Several moves, as a real drag has; the last leaves conv1's centre just below maxpool1's.
    for y in (centre + 10, centre + 60, centre + 2 * (look.BLOCK_HEIGHT + look.LINK_LENGTH) + 10):
        QTest.mouseMove(viewport, view_point(w, y))
    assert w.scene.drop_indicator.isVisible()
    assert w.document.undo_stack.count() == 0  # nothing reaches the document while dragging
    QTest.mouseRelease(
        viewport,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        view_point(w, centre + 2 * (look.BLOCK_HEIGHT + look.LINK_LENGTH) + 10),
    )
    assert w.document.undo_stack.count() == 1
    expected = before.move(0, 2)
    assert [b.id for b in w.document.spec.blocks[:3]] == ["relu1", "maxpool1", "conv1"]
    check_undo_redo(w, before.to_json(), expected.to_json())
    assert w.scene.card("conv1").y() == card_top(2)  # the card snapped into its new place


def test_a_short_drag_is_a_click_not_a_move(main_window):
    w = main_window
    viewport = w.view.viewport()
    centre = card_top(4) + look.BLOCK_HEIGHT / 2
    QTest.mouseClick(
        viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(w, centre)
    )
    assert w.document.selection == ("relu2",)
    assert w.document.undo_stack.count() == 0


def test_delete_key_removes_the_selection(main_window, qtbot):
    w = main_window
    before = w.document.spec
    w.document.set_selection(["relu1", "dropout1"])
    w.activateWindow()
    w.view.setFocus()
    QTest.keyClick(w.view, Qt.Key.Key_Delete)
    expected = before.remove(before.index_of("dropout1")).remove(before.index_of("relu1"))
    check_undo_redo(w, before.to_json(), expected.to_json())
    assert w.document.undo_stack.count() == 1
    assert scene_ids(w) == [b.id for b in expected.blocks]
    w.document.set_selection(["conv2"])
    QTest.keyClick(w.view, Qt.Key.Key_Backspace)
    assert "conv2" not in [b.id for b in w.document.spec.blocks]


def test_ctrl_d_duplicates_after_the_selection(main_window):
    w = main_window
    before = w.document.spec
    w.document.set_selection(["conv1"])
    w.activateWindow()
    w.view.setFocus()
    QTest.keyClick(w.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    copy = BlockSpec("conv3", "conv2d", dict(before.blocks[0].params))
    expected = before.insert(1, copy)
    assert w.document.selection == ("conv3",)
    check_undo_redo(w, before.to_json(), expected.to_json())


def test_inspector_edit_is_undoable_and_bounded(main_window, qtbot):
    w = main_window
    before = w.document.spec
    w.document.set_selection(["dense1"])
    spin = w.inspector.editors["units"]
    assert (spin.minimum(), spin.maximum()) == (1, 65536)
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin.lineEdit(), "32")
    QTest.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    expected = before.with_params(before.index_of("dense1"), {"units": 32})
    check_undo_redo(w, before.to_json(), expected.to_json())
    assert w.document.undo_stack.undoText() == "Set dense1 units = 32"
    # Nothing out of range can be typed: 99 is refused by a kernel spin box bounded at 15.
    w.document.set_selection(["conv1"])
    kernel = w.inspector.editors["kernel_size"]
    kernel.lineEdit().selectAll()
    QTest.keyClicks(kernel.lineEdit(), "99")
    QTest.keyClick(kernel.lineEdit(), Qt.Key.Key_Return)
    assert w.document.spec.blocks[0].params["kernel_size"] <= 15


def test_inspector_widgets_fit_each_parameter_kind(main_window):
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

    w = main_window
    w.document.insert_block(0, "rnn")
    w.document.set_selection(["rnn1"])
    editors = w.inspector.editors
    assert isinstance(editors["hidden_size"], QSpinBox)
    assert isinstance(editors["bidirectional"], QCheckBox)
    assert isinstance(editors["nonlinearity"], QComboBox)
    assert [editors["nonlinearity"].itemText(i) for i in range(2)] == ["tanh", "relu"]
    w.document.set_selection(["dropout1"])
    p = w.inspector.editors["p"]
    assert isinstance(p, QDoubleSpinBox) and (p.minimum(), p.maximum()) == (0.0, 0.95)
    assert "Dropout" in w.inspector.help.text()
    editors = w.inspector.editors
    w.document.set_selection(["rnn1"])
    w.inspector.editors["nonlinearity"].setCurrentText("relu")
    assert w.document.spec.blocks[0].params["nonlinearity"] == "relu"


def test_input_is_edited_in_the_inspector(main_window):
    from gui.editor.document import INPUT_ID

    w = main_window
    before = w.document.spec
    w.document.set_selection([INPUT_ID])
    w.inspector.editors["dim1"].setValue(16)
    expected = before.with_input("image", (1, 16, 8))
    check_undo_redo(w, before.to_json(), expected.to_json())
    w.inspector.editors["kind"].setCurrentText("sequence")
    assert w.document.spec.input.kind == "sequence"
    assert not w.document.inference.valid  # Conv2d cannot read a sequence
    assert w.scene.card("conv1").content.state == "error"


def test_shift_and_ctrl_click_select_several(main_window):
    w = main_window
    viewport = w.view.viewport()

    def click(index: int, modifier=Qt.KeyboardModifier.NoModifier):
        QTest.mouseClick(
            viewport, Qt.MouseButton.LeftButton, modifier, view_point(w, card_top(index) + 20)
        )

    click(1)
    click(3, Qt.KeyboardModifier.ShiftModifier)
    assert w.document.selection == ("relu1", "maxpool1", "conv2")
    click(5, Qt.KeyboardModifier.ControlModifier)
    assert set(w.document.selection) == {"relu1", "maxpool1", "conv2", "maxpool2"}
    assert w.duplicate_action.isEnabled() and w.delete_action.isEnabled()


def test_rubber_band_selects_cards(main_window):
    w = main_window
    viewport = w.view.viewport()
    x = look.BLOCK_WIDTH / 2 + 60  # beside the cards, so the press starts a rubber band
    start, end = view_point(w, card_top(0) - 5, x), view_point(w, card_top(2) + 10, -x)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, view_point(w, card_top(1), x - 40))
    QTest.mouseMove(viewport, end)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert w.document.selection == ("conv1", "relu1", "maxpool1")


def test_ctrl_wheel_zooms_and_ctrl_0_fits(main_window):
    from PySide6.QtGui import QWheelEvent

    w = main_window
    viewport = w.view.viewport()
    centre = QPointF(viewport.rect().center())
    before = w.view.zoom
    wheel = QWheelEvent(
        centre,
        QPointF(viewport.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, wheel)
    assert w.view.zoom > before
    w.fit_action.trigger()
    # The whole model when it fits at a readable zoom; its top (the Input) when it does not.
    assert _readable_or_across(w.view, w.scene) and _input_card_in_view(w)
    rect = w.view.mapFromScene(w.scene.model_rect()).boundingRect()
    tall = w.scene.model_rect().height() * w.view.readable_zoom() > viewport.height()
    assert tall or viewport.rect().contains(rect)


def test_right_click_selects_the_card_and_offers_its_actions(main_window, monkeypatch):
    from PySide6.QtGui import QContextMenuEvent

    w = main_window
    shown = []
    monkeypatch.setattr(
        w.view, "show_menu", lambda menu, _pos: shown.append([a.text() for a in menu.actions()])
    )
    pos = view_point(w, card_top(2) + 20)
    event = QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, pos, w.view.viewport().mapToGlobal(pos)
    )
    QApplication.sendEvent(w.view.viewport(), event)
    assert w.document.selection == ("maxpool1",)
    assert shown == [["D&uplicate", "&Delete"]]


def _input_card_in_view(window) -> bool:
    view = window.view
    card = view.mapFromScene(window.scene.card(INPUT_ID).sceneBoundingRect()).boundingRect()
    return view.viewport().rect().contains(card)


def _readable_or_across(view, scene) -> bool:
    """The zoom is readable, or as large as lets the cards fit across a narrow canvas (its width
    taken as if the vertical scroll bar were shown, as the fit takes it)."""
    bar = view.verticalScrollBar()
    width = view.viewport().width() - (0 if bar.isVisible() else bar.sizeHint().width())
    across = width / (scene.model_rect().width() + 60)
    return view.zoom >= min(view.readable_zoom(), across) - 1e-9


def test_the_readable_zoom_makes_a_cards_summary_ten_pixels_tall(main_window):
    view = main_window.view
    assert 8.5 * view.logicalDpiY() / 72 * view.readable_zoom() == pytest.approx(READABLE_TEXT_PX)


def test_fit_follows_resizes_until_the_user_scrolls(main_window, qtbot):
    w = main_window
    w.fit_action.trigger()
    assert w.view.fitted and _input_card_in_view(w)
    w.resize(w.width(), w.height() - 250)  # a shorter canvas: the top stays in view
    qtbot.waitUntil(lambda: _input_card_in_view(w))
    assert w.view.fitted and _readable_or_across(w.view, w.scene)
    bar = w.view.verticalScrollBar()
    assert bar.maximum() > 0  # the model is taller than the view at a readable zoom
    bar.triggerAction(bar.SliderAction.SliderToMaximum)  # the user scrolls down
    assert not w.view.fitted
    value = bar.value()
    w.resize(w.width(), w.height() + 50)
    qtbot.waitUntil(lambda: w.view.viewport().height() > 0)
    assert not w.view.fitted and not _input_card_in_view(w) and bar.value() >= value - 60


def test_a_tall_model_in_a_narrow_canvas_fits_once_not_forever(qtbot, monkeypatch):
    """A fit that shows or hides the vertical scroll bar changes the canvas's width; measured
    with the bar one way and without it the other, the next fit undid the last, forever (the
    50-block deep_plain example froze the window at first show, when the canvas is squeezed)."""
    from engine.model.examples import example_path
    from engine.model.spec import ModelSpec
    from gui.editor.canvas import ModelScene, ModelView
    from gui.editor.document import ModelDocument

    fits = []
    original = ModelView.fit_to_model
    monkeypatch.setattr(ModelView, "fit_to_model", lambda self: (fits.append(1), original(self)))
    document = ModelDocument(ModelSpec.load(example_path("deep_plain")))
    view = ModelView(ModelScene(document))
    qtbot.addWidget(view)
    view.resize(70, 720)  # a canvas squeezed by docks stacked before the first layout
    view.show()
    view.fit_to_model()
    qtbot.wait(300)  # events for a while: an oscillation would fit hundreds of times by now
    assert len(fits) < 10
