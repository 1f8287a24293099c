"""Start the Qt application: the interactive window, or an offscreen screenshot of it."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from engine.model.examples import DEFAULT_EXAMPLE, example_path
from engine.model.spec import ModelSpec, SpecError


def _initial_model(model: str | None, example: str | None) -> tuple[ModelSpec, Path | None]:
    """The spec to open and the file it came from (None for an example, which opens untitled)."""
    if model:
        path = Path(model)
        return ModelSpec.load(path), path.resolve()
    chosen = example_path(example or DEFAULT_EXAMPLE)
    if not chosen.exists():
        raise SpecError(
            f"There is no example called '{example}'. Examples: "
            + ", ".join(p.stem for p in chosen.parent.glob("*.json"))
        )
    return ModelSpec.load(chosen), None


def paint_on_the_gui_thread_only() -> None:
    """Ask Qt not to split large fills and image blits across its GUI thread pool. While a run
    trains, its process holds a core; on a machine with two, Qt's helper threads then wait for
    that core and the GUI thread waits on them (a third of a Train frame's time at 1920×1080
    went to that wait), and what they do get they take from training. Painting on the GUI
    thread alone cut the window's lateness p99 from 16.2-17.2 ms to 13.7-14.7 ms for the
    moons MLP at 1920×1080 (``python -m bench.dashboard_throughput``, README "Performance").
    Read by Qt once, before the first paint; a value the user set wins."""
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")


def _application():
    from PySide6.QtWidgets import QApplication

    paint_on_the_gui_thread_only()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("LayerLab")
    app.setOrganizationName("LayerLab")
    return app


def _window(spec: ModelSpec, path: Path | None, settings=None):
    from gui.editor.document import ModelDocument
    from gui.workbench import build_main_window

    document = ModelDocument(spec)
    if path is not None:
        document.new(spec, path)
    return build_main_window(document, settings)


def _quiet_offscreen_plugin() -> None:
    """The offscreen platform prints "does not support propagateSizeHints()" for every dock;
    it is about the platform, not LayerLab, and would bury real messages."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


# bench/startup.py sets this to a file; the app appends "<event> <time.time()>" lines to it when
# the window first paints and when the training process's fork server has torch loaded.
STARTUP_TRACE = "LAYERLAB_STARTUP_TRACE"


def open_window(model: str | None = None, example: str | None = None, settings=None):
    """The QApplication and the main window that ``python main.py`` shows, shown.

    torch is not imported on the way (tests/test_import_rules.py checks exactly this window):
    the window appears in well under a second, and the training process's fork server imports
    torch in its own process once the window is on screen. SpecError for a bad model file.
    """
    spec, path = _initial_model(model, example)
    app = _application()
    window = _window(spec, path, settings)
    if os.environ.get(STARTUP_TRACE):
        _FirstPaint(window)
    window.show()
    _offer_recovery_when_shown(window)
    return app, window


def _offer_recovery_when_shown(window) -> None:
    """Once the window is on screen, offer the work a crashed LayerLab left (gui/recovery.py).
    Queued, so the window paints first; recovering weights imports torch, after the show."""
    from PySide6.QtCore import QTimer

    from gui.recovery import offer_recovery

    QTimer.singleShot(0, window, lambda: offer_recovery(window))


def load_torch_behind(window) -> None:
    """Once the window is up, start the fork server, which imports torch and the Trainer in
    its own process (~2 s) while the user looks at the model, so that Train starts a run in
    ~0.1 s (engine/training/process.py). The window's process stays torch-free until something
    in it needs torch (Export, the device list)."""
    from PySide6.QtCore import QTimer

    def start() -> None:
        from engine.training.process import warm_up

        warm_up()
        if os.environ.get(STARTUP_TRACE):
            import threading

            threading.Thread(target=_trace_torch_ready, daemon=True).start()

    QTimer.singleShot(0, window, start)


def _trace(event: str) -> None:
    import time

    with open(os.environ[STARTUP_TRACE], "a", encoding="utf-8") as out:
        out.write(f"{event} {time.time():.6f}\n")


def _trace_torch_ready() -> None:
    """A no-op run through the fork server: it starts only once the server has imported
    torch and the Trainer, so Train would start a run now."""
    from engine.training.process import process_context

    child = process_context().Process(target=os.getpid)
    child.start()
    child.join()
    _trace("torch_ready")


def _FirstPaint(window):  # noqa: N802 - builds a QObject subclass on first use (Qt at import)
    from PySide6.QtCore import QEvent, QObject

    class FirstPaint(QObject):
        def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                _trace("window_shown")
            return False

    watcher = FirstPaint(window)
    window.installEventFilter(watcher)
    return watcher


def run_gui(model: str | None = None, example: str | None = None) -> int:
    from gui.platform_check import window_problem

    problem = window_problem()
    if problem:
        print(f"layerlab: {problem}", file=sys.stderr)
        return 2
    try:
        app, window = open_window(model, example)
    except SpecError as err:
        print(f"layerlab: {err}", file=sys.stderr)
        return 2
    sys.excepthook = _report_unexpected_error(window)
    load_torch_behind(window)
    code = app.exec()
    _finish_background_work()
    return code


def _report_unexpected_error(window):
    """An exception that escapes a slot is a LayerLab bug: say so in a dialog and keep running
    (the model stays open and can be saved) instead of only printing to a terminal."""
    import traceback

    from PySide6.QtWidgets import QMessageBox

    def hook(kind, value, tb) -> None:
        traceback.print_exception(kind, value, tb)
        if issubclass(kind, KeyboardInterrupt):
            return
        QMessageBox.critical(
            window,
            "Unexpected error",
            f"LayerLab hit an unexpected error and the last action did not finish:\n\n"
            f"{kind.__name__}: {value}\n\nYour model is still open; save it and please report "
            "this with the details printed in the terminal.",
        )

    return hook


def _finish_background_work() -> None:
    """Let a dataset load still running in the thread pool end before Python tears Qt down."""
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(5000)


def take_screenshot(
    out: str,
    model: str | None,
    example: str | None,
    size: str = "1440x900",
    workspace: str = "build",
) -> int:
    """Render the main window with ``model`` (or an example) offscreen to ``out`` and exit,
    showing ``workspace`` ("build" or "train")."""
    try:
        width, height = (int(v) for v in size.lower().split("x"))
        spec, path = _initial_model(model, example)
    except ValueError as err:
        msg = (
            str(err)
            if isinstance(err, SpecError)
            else f"--size must look like 1440x900, not {size!r}"
        )
        print(f"layerlab: {msg}", file=sys.stderr)
        return 2
    if "QT_QPA_PLATFORM" not in os.environ:
        # An offscreen screen of the asked size: the window lays itself out for the screen it
        # is on (the offscreen platform's own is 800×800, which would make it a narrow window's).
        screen = Path(tempfile.mkdtemp()) / "screen.json"
        screen.write_text(json.dumps({"screens": [{
            "name": "screenshot", "x": 0, "y": 0, "width": width, "height": height,
            "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1,
        }]}), encoding="utf-8")  # fmt: skip
        os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={screen}"
    _quiet_offscreen_plugin()
    app = _application()
    # A screenshot shows the default layout at the asked size: it neither reads the user's
    # remembered window layout nor overwrites it when it closes.
    from PySide6.QtCore import QEvent, QSettings

    fd, scratch = tempfile.mkstemp(suffix=".ini")
    os.close(fd)
    window = _window(spec, path, QSettings(scratch, QSettings.Format.IniFormat))
    window.resize(width, height)
    window.show()
    for _ in range(5):  # let layouts and the first paint settle
        app.processEvents()
    # Until the docks are tabbed at first show they are all stacked, and the window grows to fit
    # them; once tabbed it can take the asked size again.
    window.resize(width, height)
    panel = getattr(window, "dataset_panel", None)
    if panel is not None:  # show the example's dataset preview, as a user would see it
        panel.session.wait(60.0)
        for _ in range(5):
            app.processEvents()
    prepare = getattr(window, "prepare_screenshot", None)
    if prepare:
        prepare(workspace)
    for _ in range(5):
        app.processEvents()
    # Re-tabbed docks leave their old tab bars to deleteLater, which processEvents alone does
    # not run; without this they show as stale tab bars in the picture.
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(target)):
        print(f"layerlab: could not write the screenshot to '{target}'.", file=sys.stderr)
        return 1
    window.close()
    _finish_background_work()
    Path(scratch).unlink(missing_ok=True)
    return 0
