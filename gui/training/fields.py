"""Two pieces of the training panel: the device list, which asks torch for the GPUs only when
someone opens it (the window must not import torch before it is shown), and how a duration
reads ("1:05", "2:03:04")."""

from __future__ import annotations

import math
import sys

from PySide6.QtWidgets import QComboBox, QWidget


class DeviceComboBox(QComboBox):
    """CPU and "auto" at once; CUDA and MPS devices once torch has been asked, lazily."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.addItem("auto (GPU if there is one)", "auto")
        self.addItem("CPU", "cpu")
        self._probed = False

    def detect(self) -> None:
        """Ask torch which devices exist (imports it: ~2 s the first time)."""
        if self._probed:
            return
        self._probed = True
        from engine.training.devices import available_devices

        for name in available_devices():
            if self.findData(name) < 0:
                self.addItem(name, name)

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        self.detect()
        super().showPopup()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if "torch" in sys.modules:  # free by now: someone already paid for the import
            self.detect()


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
