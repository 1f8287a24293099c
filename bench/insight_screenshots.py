"""Screenshots of the Decision regions and Saliency views from real short runs, for the README.

Run: python -m bench.insight_screenshots resources/screenshots   (about a minute). The window
main.py shows, offscreen, trains the moons MLP and the digits CNN with the Train action, pauses
after a few seconds, and saves each view alone (its dock floated to a readable size) and the
moons run's Train workspace at 1280×800. Not a test.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Imported first: it sets up the large offscreen screen the Train workspace needs.
from bench.dashboard_throughput import _settle, _shoot  # noqa: E402
from engine.model.examples import example_path  # noqa: E402
from engine.model.spec import ModelSpec  # noqa: E402

# (file name, example, seconds of training, the view, its size when floated, probe sample)
SHOTS = (
    ("decision_regions_moons.png", "moons_mlp", 6.0, "Decision regions", (640, 520), 0),
    ("saliency_digits.png", "digits_cnn", 10.0, "Saliency", (900, 380), 3),
)


def shoot_view(app, folder: str, name: str, example: str, seconds: float, title: str,
               size: tuple[int, int], sample: int) -> None:  # fmt: skip
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from gui.editor.document import ModelDocument
    from gui.workbench import build_main_window

    ini = os.path.join(tempfile.mkdtemp(), "shot.ini")
    document = ModelDocument(ModelSpec.load(example_path(example)))
    window = build_main_window(document, QSettings(ini, QSettings.Format.IniFormat))
    window.show()
    _settle(app, 20)  # the first layout (the window fits itself to the screen), then the size
    window.resize(1280, 800)
    _settle(app)
    board = window.dashboard
    board.panel.epochs_spin.setValue(500)
    board.panel.sample_spin.setValue(sample)
    window.train_action.trigger()
    deadline = time.monotonic() + 120  # the training process's start (its fork server)
    while board.last_step is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    loop = QEventLoop()  # not app.exec(): quitting the app would stop the run (aboutToQuit)
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    board.controller.pause()
    _settle(app)
    board.dock_layout.default_sizes()
    board.docks[title].raise_()
    _settle(app)
    board.repaint_all()
    _settle(app)
    if example == "moons_mlp":
        _shoot(window, folder, "train_moons_1280x800.png")
    dock = board.docks[title]
    dock.setFloating(True)
    dock.resize(*size)
    _settle(app)
    board.views[title].repaint_now()
    _settle(app)
    path = os.path.join(folder, name)
    board.views[title].grab().save(path)
    print(f"{path}: {board.views[title].caption.text()}")
    board.shutdown()
    window.hide()  # not close(): the trained weights are unsaved work, close() would ask
    window.deleteLater()


def main() -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    folder = sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots"
    os.makedirs(folder, exist_ok=True)
    for shot in SHOTS:
        shoot_view(app, folder, *shot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
