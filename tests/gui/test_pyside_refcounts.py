"""PySide6 must not leak references to True/None on Signal.emit and void Qt calls.

PySide6 6.12.0 on CPython 3.11 loses one reference to True per ``Signal(bool).emit(True)`` and
one to None per void Qt call; on 3.11 those objects are not immortal, so after a few hundred
emits of live training the process aborts with "Fatal Python error: bool_dealloc".
pyproject.toml pins PySide6-Essentials <6.12; this test catches a regression if the pin moves.
(On CPython 3.12+ True and None are immortal and their count is fixed; the test still passes.)
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal

CALLS = 10_000
TOLERANCE = 100


class Emitter(QObject):
    toggled = Signal(bool)


def test_signal_emit_and_void_calls_keep_refcounts_of_true_and_none(qtbot):
    emitter = Emitter()
    received = []
    emitter.toggled.connect(lambda value: received.append(value) if len(received) < 1 else None)
    timer = QTimer()
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(CALLS):
        emitter.toggled.emit(True)
        emitter.setObjectName("e")  # void C++ calls: each returns None through the binding
        timer.stop()
        del i
    drift_true = sys.getrefcount(True) - before_true
    drift_none = sys.getrefcount(None) - before_none
    assert received == [True]
    assert abs(drift_true) < TOLERANCE, f"True lost {drift_true} references"
    assert abs(drift_none) < TOLERANCE, f"None lost {drift_none} references"
