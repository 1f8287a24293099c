"""Test-wide setup: Qt runs headless, and the app's settings go to a throw-away folder.

Both must happen before Qt starts, hence at import time rather than in a fixture. The window
fixtures fail a test that leaves widgets, threads or training processes behind (tests/leaks.py);
``@pytest.mark.leaks_allowed("why")`` lets a test that knowingly leaks pass.
"""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# QSettings (recent files, dock layout) must not read or litter the developer's real config.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="layerlab-test-config-")
# Runs started by tests (the window records every run) go to a throw-away folder too.
os.environ["LAYERLAB_DATA_DIR"] = tempfile.mkdtemp(prefix="layerlab-test-data-")

import pytest  # noqa: E402 - after the environment above, which must come first

LEAKS_ALLOWED = "leaks_allowed"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"{LEAKS_ALLOWED}(reason): the window fixtures do not fail this test for the widgets, "
        "threads or processes it leaves behind",
    )


@pytest.fixture
def leak_check(request, qapp):
    """Fail the test if, once its windows are closed, top-level widgets, pool or Python threads,
    or child processes it started are still there. Window fixtures depend on it, so it checks
    after they have torn down their window."""
    from tests import leaks

    before = leaks.snapshot()
    yield
    # Every other fixture has torn down by now (this one is set up first), but pytest still
    # holds their values for the test function; a widget held there keeps its Python side,
    # and the parentless menus pyqtgraph makes for each plot, alive. Let them go first.
    request.node.funcargs.clear()
    found = leaks.find_leaks(before)
    if found and request.node.get_closest_marker(LEAKS_ALLOWED) is None:
        pytest.fail(
            "The test left behind:\n  - "
            + "\n  - ".join(found)
            + f"\n(close or stop them in the test, or mark it @pytest.mark.{LEAKS_ALLOWED}"
            "('why') if the leak is known)",
            pytrace=False,
        )


@pytest.fixture
def answers(monkeypatch):
    """Stand-ins for the modal message boxes (question, critical, information): record what
    was shown, answer as told.

    ``answers.question`` is what "Save changes?" returns (Discard unless a test says otherwise).
    """
    from PySide6.QtWidgets import QMessageBox

    class Answers:
        question = QMessageBox.StandardButton.Discard
        asked: list[str] = []
        errors: list[str] = []
        infos: list[str] = []

    rec = Answers()
    rec.asked, rec.errors, rec.infos = [], [], []

    def question(_parent, _title, text, *_args, **_kwargs):
        rec.asked.append(text)
        return rec.question

    def critical(_parent, _title, text, *_args, **_kwargs):
        rec.errors.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))

    def information(_parent, _title, text, *_args, **_kwargs):
        rec.infos.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "critical", staticmethod(critical))
    # A modal box nobody answers would hang the test; every kind is answered here.
    monkeypatch.setattr(QMessageBox, "information", staticmethod(information))
    return rec


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """The user's data directory of this test only (LAYERLAB_DATA_DIR): its runs and recovery
    folders are the only ones the code under test finds."""
    monkeypatch.setenv("LAYERLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def runs_dir(data_dir):
    """Where an untitled model's runs are kept (and the Runs panel lists them from)."""
    return data_dir / "runs"


@pytest.fixture
def window_settings(tmp_path):
    """Settings of this test only, so dock layouts and recent files never leak between tests."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "layerlab-settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def main_window(qtbot, answers, window_settings):
    """A shown MainWindow (the editor alone) on the 8×8 digits CNN example; message boxes never
    block; closed and deleted after the test. A module that wants the leak check too sets
    ``pytestmark = pytest.mark.usefixtures("leak_check")``, which runs it after this teardown."""
    from gui.main_window import MainWindow

    window = MainWindow(_digits_document(), window_settings)
    _show(qtbot, window, 1200)
    window.view.set_zoom(1.0)
    yield window
    close_window(window)


@pytest.fixture
def make_app_window(qtbot, answers, window_settings, leak_check):
    """Makes the whole window ``python main.py`` shows (gui.workbench.build_main_window), shown,
    on a bundled example (the digits CNN unless told), with throw-away settings. After the test
    each window is closed as the app closes it (a run is stopped, its process waited for) and
    deleted; the test fails if anything leaked.

    A factory, as napari's ``make_napari_viewer``, not the window itself: pytest keeps a fixture's
    value until the test is over, which would keep the window's Python side, and the parentless
    menus pyqtgraph makes for every plot, alive past the leak check."""
    from gui.workbench import build_main_window

    windows = []

    def make(example: str = "digits_cnn"):
        window = build_main_window(_example_document(example), window_settings)
        _show(qtbot, window, 1300)
        windows.append(window)
        return window

    yield make
    while windows:
        close_window(windows.pop())


def _digits_document():
    return _example_document("digits_cnn")


def _example_document(example: str):
    from engine.model.examples import example_path
    from engine.model.spec import ModelSpec
    from gui.editor.document import ModelDocument

    return ModelDocument(ModelSpec.load(example_path(example)))


def _shown(qtbot, window, width: int):
    qtbot.addWidget(window)
    _show(qtbot, window, width)
    return window


def _show(qtbot, window, width: int) -> None:
    window.resize(width, 900)
    window.show()
    qtbot.waitExposed(window)


def close_window(window) -> None:
    """Close ``window`` as the app does when the user quits, then delete it and its document:
    unsaved changes are asked about (the ``answers`` fixture replies), a training run is stopped
    and its process waited for (what the dashboard does when the application quits)."""
    window.close()
    dashboard = getattr(window, "dashboard", None)
    if dashboard is not None:
        dashboard.shutdown()
    window.deleteLater()
    # The document's connections to the window's slots and lambdas live in C++, where the
    # garbage collector cannot see them: until the document is deleted they keep the window's
    # Python side, and every parentless menu pyqtgraph made for its plots, alive.
    window.document.deleteLater()
