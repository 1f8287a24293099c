"""Test-wide setup: Qt runs headless, and the app's settings go to a throw-away folder.

Both must happen before Qt starts, hence at import time rather than in a fixture.
"""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# QSettings (recent files, dock layout) must not read or litter the developer's real config.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="layerlab-test-config-")

import pytest  # noqa: E402 - after the environment above, which must come first


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
def window_settings(tmp_path):
    """Settings of this test only, so dock layouts and recent files never leak between tests."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "layerlab-settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def main_window(qtbot, answers, window_settings):
    """A shown MainWindow on the 8×8 digits CNN example; message boxes never block."""
    from gui.main_window import MainWindow

    window = _shown(qtbot, MainWindow(_digits_document(), window_settings), 1200)
    window.view.set_zoom(1.0)
    return window


@pytest.fixture
def workbench(qtbot, answers, window_settings):
    """The whole application window (gui.workbench) on the digits CNN example, shown; its
    training run and dataset loads are stopped at the end of the test."""
    from gui.workbench import build_main_window

    window = _shown(qtbot, build_main_window(_digits_document(), window_settings), 1300)
    yield window
    window.dashboard.shutdown()
    window.dataset_session.wait(10)


def _digits_document():
    from engine.model.examples import example_path
    from engine.model.spec import ModelSpec
    from gui.editor.document import ModelDocument

    return ModelDocument(ModelSpec.load(example_path("digits_cnn")))


def _shown(qtbot, window, width: int):
    qtbot.addWidget(window)
    window.resize(width, 900)
    window.show()
    qtbot.waitExposed(window)
    return window
