"""The leak check behind the window fixtures reports each kind of leak, by name, and stops
reporting it once the thing has ended; the fixture fails a leaking test unless it is marked."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from PySide6.QtCore import QRunnable, QThreadPool
from PySide6.QtWidgets import QWidget

from tests import leaks

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[2]


def test_a_widget_left_on_screen_is_reported_until_it_is_deleted(qapp):
    before = leaks.snapshot()
    widget = QWidget()
    widget.setObjectName("forgotten")
    widget.setWindowTitle("Left behind")
    widget.show()
    assert leaks.find_leaks(before, wait_s=0) == [
        "top-level widget QWidget 'forgotten' titled 'Left behind' (shown) was not deleted"
    ]
    widget.deleteLater()
    assert leaks.find_leaks(before, wait_s=0) == []


def test_a_python_thread_still_running_is_reported_until_it_ends(qapp):
    release = threading.Event()
    before = leaks.snapshot()
    thread = threading.Thread(target=release.wait, name="stuck-relay", daemon=True)
    thread.start()
    assert leaks.find_leaks(before, wait_s=0) == ["Python daemon thread 'stuck-relay' still runs"]
    release.set()
    assert leaks.find_leaks(before) == []  # it may take the wait to end: not a leak
    assert not thread.is_alive()


class _Blocked(QRunnable):
    def __init__(self, release: threading.Event):
        super().__init__()
        self.release = release

    def run(self) -> None:
        self.release.wait()


def test_a_busy_thread_pool_is_reported_until_its_work_ends(qapp):
    release = threading.Event()
    before = leaks.snapshot()
    QThreadPool.globalInstance().start(_Blocked(release))
    found = leaks.find_leaks(before, wait_s=0)
    assert found == ["QThreadPool.globalInstance() still runs 1 task(s)"]
    release.set()
    assert leaks.find_leaks(before) == []


def test_a_child_process_still_alive_is_reported_until_it_ends(qapp):
    ctx = multiprocessing.get_context("spawn")
    release = ctx.Event()
    before = leaks.snapshot()
    child = ctx.Process(target=release.wait, name="training-run")
    child.start()
    found = leaks.find_leaks(before, wait_s=0)
    assert found == [f"child process 'training-run' (pid {child.pid}) is still alive"]
    release.set()
    assert leaks.find_leaks(before) == []
    assert child.exitcode == 0


LEAKING_TESTS = """
import pytest
from PySide6.QtWidgets import QMenu

kept = []


def test_leaks_a_menu(make_app_window):
    make_app_window()
    kept.append(QMenu())


@pytest.mark.leaks_allowed("kept on purpose")
def test_leaks_a_menu_knowingly(make_app_window):
    make_app_window()
    kept.append(QMenu())
"""


def test_the_window_fixture_fails_a_leaking_test_unless_it_is_marked(pytester, monkeypatch):
    # In a process of its own: an in-process run would forget the modules it imported, and
    # later tests would then get second copies of them.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest('pytest_plugins = ["tests.conftest"]')
    pytester.makepyfile(test_leaky=LEAKING_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)  # the leaking test passed, then failed teardown
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_leaks_a_menu*",
        "*The test left behind:",
        "*- top-level widget QMenu (hidden) was not deleted",
    ])  # fmt: skip
