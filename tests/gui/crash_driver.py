"""The window a user runs, made to crash: the real window (gui.app.open_window) on the moons
MLP, one edit, and a long run. tests/gui/test_crash_recovery.py starts it in a subprocess and
SIGKILLs it mid-run. ``python -m tests.gui.crash_driver SPEC_OUT`` writes the edited model to
SPEC_OUT, so the test can compare what Recover brings back."""

from __future__ import annotations

import sys
from pathlib import Path


def main(spec_out: str) -> int:
    from PySide6.QtCore import QTimer

    from gui.app import load_torch_behind, open_window

    app, window = open_window(example="moons_mlp")
    doc, board = window.document, window.dashboard
    doc.set_params(0, {"units": 12})  # the edit that must come back
    doc.spec.save(Path(spec_out))
    board.panel.set_settings({"epochs": 100000})
    board.settings_overrides = {"probes": False}
    load_torch_behind(window)
    QTimer.singleShot(0, board.train)  # as if Train were pressed once the window is up
    return app.exec()


if __name__ == "__main__":  # the training process's server may import this module again
    sys.exit(main(sys.argv[1]))
