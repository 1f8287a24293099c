"""Run by test_canvas_first_launch.py in a fresh interpreter (the screen is fixed when Qt
starts): open the window main.py shows, on the example named in argv[1], let its docks take
their sizes, and print as JSON where the Input card lies in the canvas and at what zoom."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gui.app import open_window  # noqa: E402
from gui.editor.document import INPUT_ID  # noqa: E402


def _rect(r) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def main() -> None:
    app, window = open_window(example=sys.argv[1])
    view = window.view
    # Settled: the events of the first show and the docks' first sizes have all run.
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    card = view.mapFromScene(window.scene.card(INPUT_ID).sceneBoundingRect()).boundingRect()
    report = {
        "window": _rect(window.frameGeometry()),
        "viewport": _rect(view.viewport().rect()),
        "input_card": _rect(card),
        "zoom": view.zoom,
        "readable_zoom": view.readable_zoom(),
    }
    print(json.dumps(report))
    window.dashboard.shutdown()
    window.close()


if __name__ == "__main__":
    main()
