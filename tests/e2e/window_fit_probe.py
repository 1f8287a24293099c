"""Run by test_window_fits.py in a fresh interpreter (the screen is fixed when Qt starts):
open the window main.py shows, select the first block, and print as JSON where the screen's
available area, the window and each key widget lie, in global logical pixels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtWidgets import QDockWidget, QTabBar  # noqa: E402

from gui.app import open_window  # noqa: E402


def _rect(r) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def _shown_part(widget) -> list[int]:
    """The part of ``widget`` actually drawn (not clipped by a scroll area, dock or window)."""
    region = widget.visibleRegion().boundingRect()
    return _rect(region.translated(widget.mapToGlobal(region.topLeft()) - region.topLeft()))


def main() -> None:
    app, window = open_window()
    document = window.document
    document.set_selection([document.spec.blocks[0].id])
    for _ in range(30):
        app.processEvents()
    panel = window.dashboard.panel
    widgets = {b.text(): b for b in (panel.train_button, panel.pause_button, panel.stop_button)}
    widgets.update({f"Inspector {n}": e for n, e in window.inspector.editors.items()})
    report = {
        "available": _rect(window.screen().availableGeometry()),
        "dpr": window.screen().devicePixelRatio(),
        "window": _rect(window.frameGeometry()),
        "widgets": {
            name: {
                "rect": _rect(w.rect().translated(w.mapToGlobal(w.rect().topLeft()))),
                "shown": _shown_part(w),
            }
            for name, w in widgets.items()
        },
        "tabs": {},
    }
    view_titles = set(window.dashboard.views)
    for bar in window.findChildren(QTabBar):
        if not bar.isVisible():
            continue
        shown = bar.visibleRegion()
        for i in range(bar.count()):
            title = bar.tabText(i)
            if title in view_titles:
                tab = bar.tabRect(i)
                report["tabs"][title] = {
                    "rect": _rect(tab.translated(bar.mapToGlobal(tab.topLeft()) - tab.topLeft())),
                    "whole": shown.contains(tab) and shown.intersected(tab).boundingRect() == tab,
                }
    for dock in window.findChildren(QDockWidget):  # views docked alone have no tab
        if dock.windowTitle() in view_titles and dock.windowTitle() not in report["tabs"]:
            r = dock.rect().translated(dock.mapToGlobal(dock.rect().topLeft()))
            report["tabs"][dock.windowTitle()] = {"rect": _rect(r), "whole": dock.isVisible()}
    print(json.dumps(report))
    window.close()


if __name__ == "__main__":
    main()
