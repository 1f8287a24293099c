"""Run by test_window_fits.py in a fresh interpreter (the screen is fixed when Qt starts):
open the window main.py shows, select the first block, and print as JSON where the screen's
available area, the window and each key widget lie, in global logical pixels.

Three moments are measured. Building (the Build workspace): the palette, the Inspector's fields
and Problems. Then Train is pressed (on a data file that does not exist, so the run fails at
once without starting a training process): the Train workspace, where the failure brought the
training panel's column with all of its form, its buttons and its message. The column closed
("Settings" on the run bar, as a user does): the grid's views, every view's tab, the run bar's
fields and the toolbar's Train, Pause and Stop. Then View › Views Only (the grid alone),
on and off again."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QPoint  # noqa: E402
from PySide6.QtGui import QRegion  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QFormLayout, QTabBar, QWidget  # noqa: E402

from engine.model.catalogue import CATALOGUE  # noqa: E402
from gui.app import open_window  # noqa: E402


def _rect(r) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def _drawing(dock: QDockWidget) -> QWidget:
    """A view's drawing area: the view less its header row (caption, Export, "?"), where the
    header is in the view and not in its dock's title bar."""
    return dock.widget().stack


def _shown_part(widget) -> list[int]:
    """The part of ``widget`` actually drawn (not clipped by a scroll area, dock or window),
    its children's parts included (they are cut out of its own visible region)."""
    region = QRegion()
    for part in (widget, *widget.findChildren(QWidget)):
        if part.isVisible():
            region += part.visibleRegion().translated(part.mapTo(widget, QPoint(0, 0)))
    box = region.boundingRect()
    return _rect(box.translated(widget.mapToGlobal(QPoint(0, 0))))


def _where(widgets: dict) -> dict:
    return {
        name: {
            "rect": _rect(w.rect().translated(w.mapToGlobal(w.rect().topLeft()))),
            "shown": _shown_part(w),
        }
        for name, w in widgets.items()
    }


def _settle(app, until=lambda: True, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    for _ in range(30):
        app.processEvents()
    while not until() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def _palette_whole(palette) -> bool:
    """Every block of the palette in view without scrolling the list."""
    tree = palette.tree
    viewport = tree.viewport().rect()
    items = [palette.item_for(block_type.id) for block_type in CATALOGUE]
    return all(viewport.contains(tree.visualItemRect(item)) for item in items)


def _view_tabs(window) -> dict:
    tabs = {}
    view_titles = set(window.dashboard.views)
    for bar in window.findChildren(QTabBar):
        if not bar.isVisible():
            continue
        shown = bar.visibleRegion()
        for i in range(bar.count()):
            title = bar.tabText(i)
            if title in view_titles:
                tab = bar.tabRect(i)
                tabs[title] = {
                    "rect": _rect(tab.translated(bar.mapToGlobal(tab.topLeft()) - tab.topLeft())),
                    "whole": shown.contains(tab) and shown.intersected(tab).boundingRect() == tab,
                    # The name in full, not cut to "Gradient fl…".
                    "named": tab.width() >= bar.tabSizeHint(i).width(),
                }
    for dock in window.findChildren(QDockWidget):  # views docked alone have no tab
        if dock.isHidden():  # closed: a view that cannot show this model
            continue
        if dock.windowTitle() in view_titles and dock.windowTitle() not in tabs:
            r = dock.rect().translated(dock.mapToGlobal(dock.rect().topLeft()))
            tabs[dock.windowTitle()] = {"rect": _rect(r), "whole": dock.isVisible(), "named": True}
    return tabs


def _run_buttons(window) -> dict:
    """Where the toolbar's Train, Pause and Stop lie."""
    return _where({
        a.text().replace("&", ""): window.toolbar.widgetForAction(a)
        for a in (window.train_action, window.pause_action, window.stop_action)
    })  # fmt: skip


def main() -> None:
    app, window = open_window()
    document = window.document
    document.set_selection([document.spec.blocks[0].id])
    _settle(app)
    building = {f"Inspector {n}": e for n, e in window.inspector.editors.items()}
    building["Problems"] = window.problems
    report = {
        "available": _rect(window.screen().availableGeometry()),
        "dpr": window.screen().devicePixelRatio(),
        "window": _rect(window.frameGeometry()),
        "building": _where(building),
        "palette_whole": not window.palette.visibleRegion().isEmpty()
        and _palette_whole(window.palette),
        "workspace_before": window.workspaces.current,
        "canvas": _rect(window.view.rect()),
        "canvas_scrolls_across": window.view.horizontalScrollBar().isVisible(),
        # Each dock tab's name and whether it is drawn in full (not cut to "Blo…").
        "build_tabs": {
            bar.tabText(i): bar.tabRect(i).width() >= bar.tabSizeHint(i).width()
            for bar in window.findChildren(QTabBar)
            if bar.parent() is window and bar.isVisible()
            for i in range(bar.count())
        },
    }

    panel = window.dashboard.panel
    report["training_shown_before"] = not panel.visibleRegion().isEmpty()
    document.set_dataset(str(Path(__file__).with_name("no-such-data.npz")))
    window.train_action.trigger()
    _settle(app, until=lambda: panel.shows_error)
    training = {b.text(): b for b in (panel.train_button, panel.pause_button, panel.stop_button)}
    form = panel.form_area.widget().layout()
    assert isinstance(form, QFormLayout)
    for row in range(form.rowCount()):
        label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        field = form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget()
        # A row without a label (the "until stopped" box under Epochs) goes by its own text.
        name = label.widget().text() if label is not None else field.text()
        training[f"Training {name}"] = field
    training["Training status"] = panel.status_area
    report["training"] = _where(training)
    report["training_error"] = panel.shows_error
    report["workspace_after"] = window.workspaces.current
    layout = window.dashboard.dock_layout
    report["grid_beside_panel"] = _where(
        {t: _drawing(window.dashboard.docks[t]) for t in layout.grid}
    )
    # The column closed, as a user does once the message is read: Train as it opens.
    layout.panel_action.trigger()
    _settle(app)
    report["panel_closed"] = panel.visibleRegion().isEmpty()
    report["tabs"] = _view_tabs(window)
    # The views that cannot show this model are closed, and a click away in the View menu.
    report["closed"] = [
        t for t, d in window.dashboard.docks.items() if d.isHidden() and t in window.dashboard.views
    ]
    report["view_menu"] = [a.text().replace("&", "") for a in window.view_menu.actions()]
    grid = layout.grid
    report["grid"] = _where({t: _drawing(window.dashboard.docks[t]) for t in grid})
    report["cells"] = _where({t: window.dashboard.docks[t] for t in grid})
    bar = layout.run_bar
    report["strip_scrolls"] = layout.strip.horizontalScrollBar().isVisible()
    report["run_bar"] = _where({"progress": bar.progress, "message": bar.message,
                                "lr": bar.lr_spin, "clip": bar.clip_spin,
                                "sample": bar.sample_spin, "Settings": bar.panel_button})  # fmt: skip
    report["toolbar"] = _run_buttons(window)
    # Back and forth as a user switches: the titles on the visible dock tab bars each time.
    report["bars"] = []
    for name in ("build", "train", "build", "train"):
        window.workspaces.show(name)
        _settle(app)
        bars = [b for b in window.findChildren(QTabBar) if b.parent() is window]
        shown = [b.tabText(i) for b in bars if b.isVisible() for i in range(b.count())]
        report["bars"].append([name, shown])
    # View › Views Only: the grid gets the whole window; Train, Pause and Stop in the toolbar.
    layout.views_only_action.trigger()
    _settle(app)
    report["views_only"] = _where({t: _drawing(window.dashboard.docks[t]) for t in grid})
    report["views_only_strip_shown"] = layout.strip_bar.isVisible()
    report["views_only_toolbar"] = _run_buttons(window)
    layout.views_only_action.trigger()
    _settle(app)
    report["views_only_off_strip_shown"] = layout.run_bar.isVisible()
    print(json.dumps(report))
    document.undo_stack.undo()  # the model unchanged again: closing asks nothing
    window.dashboard.shutdown()
    window.close()


if __name__ == "__main__":
    main()
