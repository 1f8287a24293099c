"""Opening a window where none can open gives one line with the fix, not Qt's abort."""

from __future__ import annotations

import ctypes
import sys

import pytest

from gui import platform_check

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="X11 checks are Linux-only"
)


def test_no_display_is_explained():
    problem = platform_check.window_problem({})
    assert "no display" in problem and "--screenshot" in problem


def test_other_platforms_are_left_to_qt():
    assert platform_check.window_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert platform_check.window_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None


def test_a_missing_x11_library_is_named_with_the_packages_to_install(monkeypatch):
    def refuse(path):
        raise OSError(
            f"{path}: libxcb-cursor.so.0: cannot open shared object file: No such file or directory"
        )

    monkeypatch.setattr(ctypes, "CDLL", refuse)
    problem = platform_check.window_problem({"DISPLAY": ":0"})
    assert "libxcb-cursor.so.0 is missing" in problem
    assert "sudo apt install libxcb-cursor0" in problem


def test_main_exits_with_the_message_instead_of_aborting(monkeypatch, capsys):
    import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert main.main([]) == 2
    assert capsys.readouterr().err.startswith("layerlab: there is no display")
