"""The Build and Train workspaces: switching, each one's remembered arrangement, Reset Layout of
the shown one only, Train switching to Train (a setting), the grid chosen for the model, and
the compact model strip."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from gui.training.docks import grid_views
from gui.workspaces import SWITCH_ON_TRAIN_KEY

CNN_GRID = {"Loss curves", "Filters", "Feature maps", "Gradient flow"}
LSTM_GRID = {"Loss curves", "Gates", "Gradient flow", "Confusion matrix"}  # sequence classes


def _on_screen(window, titles) -> bool:
    return all(window.dashboard.docks[t].widget().is_on_screen() for t in titles)


def _off_screen(window, titles) -> bool:
    return not any(window.dashboard.docks[t].widget().is_on_screen() for t in titles)


def test_build_shows_the_canvas_and_train_the_views(make_app_window, qtbot):
    window = make_app_window()
    spaces, views = window.workspaces, window.dashboard.views
    assert spaces.current == "build" and spaces.actions["build"].isChecked()
    qtbot.waitUntil(lambda: window.inspector.isVisible() and window.view.isVisible())
    assert _off_screen(window, views)
    spaces.actions["train"].trigger()
    assert spaces.current == "train" and spaces.actions["train"].isChecked()
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    assert not window.view.isVisible() and not window.inspector.isVisible()
    # No left column: the run bar beside the model strip shows the run; Train, Pause and Stop
    # are in the toolbar; the training panel is a click away ("Settings").
    layout = window.dashboard.dock_layout
    assert not window.dashboard.panel.isVisible() and not window.dataset_panel.isVisible()
    assert layout.strip.isVisible() and layout.run_bar.isVisible()
    assert all(window.toolbar.widgetForAction(a).isVisible()
               for a in (window.train_action, window.pause_action, window.stop_action))  # fmt: skip
    spaces.actions["build"].trigger()
    qtbot.waitUntil(lambda: window.view.isVisible() and window.inspector.isVisible())
    assert _off_screen(window, views)


def test_workspace_shortcuts_are_in_the_view_menu(make_app_window):
    window = make_app_window()
    texts = {a.text(): a for a in window.view_menu.actions()}
    assert texts["Build"].shortcut().toString() == "Ctrl+1"
    assert texts["Train"].shortcut().toString() == "Ctrl+2"
    assert texts["Switch to Train when training starts"].isChecked()


def test_each_workspace_keeps_its_own_arrangement(make_app_window, qtbot):
    window = make_app_window()
    spaces, docks = window.workspaces, window.dashboard.docks
    spaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    docks["Filters"].setFloating(True)
    spaces.show("build")
    window.problems_dock.hide()
    spaces.show("train")
    assert docks["Filters"].isFloating() and docks["Filters"].isVisible()
    spaces.show("build")
    assert window.problems_dock.isHidden() and not docks["Filters"].isVisible()
    # Remembered across sessions: a second window on the same settings.
    assert window.close()
    second = make_app_window()
    assert second.workspaces.current == "build"
    assert second.problems_dock.isHidden() and not second.inspector_dock.isHidden()
    second.workspaces.show("train")
    assert second.dashboard.docks["Filters"].isFloating()


def test_reset_layout_resets_only_the_shown_workspace(make_app_window, qtbot):
    window = make_app_window()
    spaces, docks = window.workspaces, window.dashboard.docks
    window.problems_dock.hide()
    spaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    docks["Filters"].setFloating(True)
    docks["Loss curves"].close()
    window.reset_layout_action.trigger()
    assert not docks["Filters"].isFloating()
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    spaces.show("build")
    assert window.problems_dock.isHidden()  # Build's arrangement was not reset
    window.reset_layout()
    assert not window.problems_dock.isHidden()
    assert window.palette.isVisible() and _off_screen(window, window.dashboard.views)


def test_train_switches_to_the_train_workspace(make_app_window, qtbot, tmp_path):
    window = make_app_window()
    panel = window.dashboard.panel
    # A data file that is not there: the run fails at once, without a training process.
    window.document.set_dataset(str(tmp_path / "gone.npz"))
    window.train_action.trigger()
    assert window.workspaces.current == "train"
    qtbot.waitUntil(lambda: panel.state == "idle" and panel.shows_error, timeout=30_000)
    assert not panel.visibleRegion().isEmpty()


def test_train_stays_in_build_when_the_setting_is_off(make_app_window, qtbot, tmp_path):
    window = make_app_window()
    window.workspaces.switch_on_train_action.trigger()  # off
    assert window.settings.value(SWITCH_ON_TRAIN_KEY) in (False, "false")
    window.document.set_dataset(str(tmp_path / "gone.npz"))
    qtbot.mouseClick(window.dashboard.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dashboard.panel.shows_error, timeout=30_000)
    assert window.workspaces.current == "build" and window.view.isVisible()
    window.document.undo_stack.undo()
    assert window.close()
    second = make_app_window()  # the choice is remembered
    assert not second.workspaces.switch_on_train


@pytest.mark.parametrize(
    ("example", "grid", "closed"),
    [("digits_cnn", CNN_GRID, {"Gates", "Forecast", "Decision regions"}),
     ("memory_lstm", LSTM_GRID, {"Filters", "Feature maps", "Saliency", "Predictions",
                                 "Forecast", "Decision regions"})],
)  # fmt: skip
def test_the_train_grid_is_chosen_for_the_model(make_app_window, qtbot, example, grid, closed):
    window = make_app_window(example)
    assert set(grid_views(window.document.spec)) == grid
    window.workspaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, grid), timeout=5000)
    docks = window.dashboard.docks
    # Every other view that can show the model a click away: a tab behind a cell of the grid.
    for title in set(window.dashboard.views) - grid - closed:
        assert window.tabifiedDockWidgets(docks[title]), title
        assert not docks[title].isHidden(), title
    # The views that cannot (Gates for a CNN, Filters for an LSTM) are no dead tabs: closed,
    # each still in the View menu, where a click opens it.
    menu = window.view_menu.actions()
    for title in closed:
        dock = docks[title]
        assert dock.isHidden() and not window.tabifiedDockWidgets(dock), title
        assert dock.toggleViewAction() in menu, title
    # Opened, it comes in front of a grid cell as a tab (Qt put it back as a strip across
    # the top of the grid, squeezing all four views).
    title = sorted(closed)[0]
    docks[title].toggleViewAction().trigger()
    assert docks[title].isVisible() and not docks[title].isFloating()
    assert set(window.tabifiedDockWidgets(docks[title])) & {docks[t] for t in grid}
    qtbot.waitUntil(lambda: docks[title].widget().is_on_screen(), timeout=5000)


def test_the_grid_follows_the_model_when_its_kind_changes(make_app_window, qtbot):
    window = make_app_window()
    window.workspaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    window.document.new(ModelSpec.load(example_path("memory_lstm")))
    qtbot.waitUntil(lambda: _on_screen(window, LSTM_GRID), timeout=5000)
    assert _off_screen(window, CNN_GRID - LSTM_GRID)
    # Switched away while the model changes kind: the grid is laid out afresh on return.
    window.workspaces.show("build")
    window.document.new(ModelSpec.load(example_path("digits_cnn")))
    window.workspaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)


def test_the_model_strip_selects_the_clicked_block(make_app_window, qtbot):
    window = make_app_window()
    window.workspaces.show("train")
    strip = window.dashboard.dock_layout.strip
    blocks = window.document.spec.blocks
    qtbot.waitUntil(lambda: strip.isVisible(), timeout=5000)
    assert list(strip.chips) == [b.id for b in blocks]
    second = blocks[1].id
    assert second in strip.chips[second].text()
    qtbot.mouseClick(strip.chips[second], Qt.MouseButton.LeftButton)
    assert window.document.selection == (second,)
    assert strip.chips[second].isChecked() and not strip.chips[blocks[0].id].isChecked()
    window.document.set_selection([blocks[0].id])  # selected elsewhere: the chip follows
    assert strip.chips[blocks[0].id].isChecked() and not strip.chips[second].isChecked()
    window.document.remove_blocks([0])  # an edit rebuilds the chips
    assert blocks[0].id not in strip.chips
    window.document.undo_stack.undo()


def test_a_larger_window_gives_its_room_to_the_grid(make_app_window, qtbot):
    from gui.training.docks import LEFT_COLUMN_MAX

    window = make_app_window()
    window.workspaces.show("train")
    docks = window.dashboard.docks
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    window.dashboard.dock_layout.panel_action.trigger()  # the training panel's column, opened
    qtbot.waitUntil(lambda: docks["Training"].isVisible(), timeout=5000)
    before = docks["Loss curves"].width()
    window.resize(window.width() + 500, window.height())
    # The left column stays narrow (QMainWindow would give it the room the hidden canvas had).
    qtbot.waitUntil(lambda: docks["Loss curves"].width() >= before + 200, timeout=5000)
    assert docks["Training"].width() <= LEFT_COLUMN_MAX
    window.workspaces.show("build")  # Build's column is not capped
    assert docks["Training"].maximumWidth() > LEFT_COLUMN_MAX


def test_views_only_gives_the_grid_the_window_and_is_not_remembered(make_app_window, qtbot):
    window = make_app_window()
    layout, spaces = window.dashboard.dock_layout, window.workspaces
    action = layout.views_only_action
    assert not action.isEnabled()  # Build has no grid to give the room to
    assert action in window.view_menu.actions() and action in window.toolbar.actions()
    spaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    loss = window.dashboard.docks["Loss curves"]
    height = loss.height()
    assert action.isEnabled()
    action.trigger()
    # The strip's row (the model and the run bar) steps aside: the grid's rows grow.
    qtbot.waitUntil(lambda: loss.height() > height + 20, timeout=5000)
    assert not layout.strip.isVisible() and not layout.run_bar.isVisible()
    assert _on_screen(window, CNN_GRID)
    # Leaving Train undoes it, so Train is remembered with its strip.
    spaces.show("build")
    assert not action.isChecked() and not action.isEnabled()
    spaces.show("train")
    qtbot.waitUntil(lambda: layout.run_bar.isVisible(), timeout=5000)
    # A column the user opened (the training panel) steps aside too, and comes back.
    layout.panel_action.trigger()
    qtbot.waitUntil(lambda: window.dashboard.panel.isVisible(), timeout=5000)
    action.trigger()
    assert action.isChecked()
    qtbot.waitUntil(lambda: not window.dashboard.panel.isVisible(), timeout=5000)
    action.trigger()  # and off again
    qtbot.waitUntil(lambda: window.dashboard.panel.isVisible(), timeout=5000)
    assert layout.strip.isVisible()
    layout.panel_action.trigger()  # closed again
    qtbot.waitUntil(lambda: not window.dashboard.panel.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: abs(loss.height() - height) < 5, timeout=5000)
    # On when the window closes: the arrangement kept is the one with the strip.
    action.trigger()
    assert window.close()
    second = make_app_window()
    second.workspaces.show("train")
    qtbot.waitUntil(lambda: second.dashboard.dock_layout.run_bar.isVisible(), timeout=5000)
    assert not second.dashboard.dock_layout.views_only_action.isChecked()


def test_settings_on_the_run_bar_shows_the_training_panel_beside_the_grid(make_app_window, qtbot):
    """Train has no left column by default; "Settings" opens the training panel's column
    (every field), the grid keeps its four views beside it, and a second click closes it."""
    window = make_app_window()
    layout, panel = window.dashboard.dock_layout, window.dashboard.panel
    window.workspaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    loss = window.dashboard.docks["Loss curves"]
    width = loss.width()
    assert not layout.panel_action.isChecked()
    qtbot.mouseClick(layout.run_bar.panel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.isVisible() and loss.width() < width - 100, timeout=5000)
    assert layout.panel_action.isChecked() and panel.epochs_spin.isVisible()
    assert _on_screen(window, CNN_GRID)
    qtbot.mouseClick(layout.run_bar.panel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.isVisible(), timeout=5000)
    assert not layout.panel_action.isChecked()
    # The panel's own close button unchecks it too.
    layout.panel_action.trigger()
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=5000)
    window.dashboard.docks["Training"].close()
    assert not layout.panel_action.isChecked()


def test_a_train_arrangement_from_before_the_run_bar_is_laid_out_afresh(
    make_app_window, qtbot, window_settings
):
    """An arrangement remembered from the layout with the training panel's column (kept under
    the grid key without a layout version) is not restored: Train opens without the column."""
    from gui.training.docks import GRID_KEY

    window = make_app_window()
    window.workspaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    window.dashboard.dock_layout.panel_action.trigger()  # the old default's column
    qtbot.waitUntil(lambda: window.dashboard.panel.isVisible(), timeout=5000)
    assert window.close()
    key = window_settings.value(GRID_KEY)
    window_settings.setValue(GRID_KEY, key.split(":", 1)[1])  # as the old code wrote it
    second = make_app_window()
    second.workspaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(second, CNN_GRID), timeout=5000)
    assert not second.dashboard.panel.isVisible()
    assert second.dashboard.dock_layout.run_bar.isVisible()


def test_a_views_title_bar_carries_its_header_and_floats_and_closes_it(make_app_window, qtbot):
    """Each view's caption, Export and "?" sit in its dock's title bar, not in a row of their
    own; the bar's buttons float and close the dock as Qt's own do, and a long caption ends in
    "…" with the whole text as its tooltip instead of widening the window."""
    from gui.training.docks import ViewTitleBar

    window = make_app_window()
    window.workspaces.show("train")
    qtbot.waitUntil(lambda: _on_screen(window, CNN_GRID), timeout=5000)
    dock = window.dashboard.docks["Filters"]
    view = dock.widget()
    bar = dock.titleBarWidget()
    assert isinstance(bar, ViewTitleBar) and bar.title.text() == "Filters"
    assert view.header.parent() is bar and view.export_button.isVisibleTo(bar)
    # One row: the bar is no taller than the header's buttons need.
    assert bar.height() <= view.export_button.sizeHint().height() + 8
    width = window.width()
    view.caption.setText("a caption far too long for any dock " * 20)
    qtbot.wait(50)
    assert window.width() == width and view.caption.toolTip() == view.caption.text()
    qtbot.mouseClick(bar.float_button, Qt.MouseButton.LeftButton)
    assert dock.isFloating()
    qtbot.mouseClick(bar.float_button, Qt.MouseButton.LeftButton)
    assert not dock.isFloating()
    qtbot.mouseClick(bar.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dock.isVisible())
    assert not dock.toggleViewAction().isChecked()  # the View menu shows it again
