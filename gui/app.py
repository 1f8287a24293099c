"""Start the Qt application: the interactive window, or an offscreen screenshot of it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.examples import DEFAULT_EXAMPLE, example_path
from engine.spec import ModelSpec, SpecError


def _initial_model(model: str | None, example: str | None) -> tuple[ModelSpec, Path | None]:
    """The spec to open and the file it came from (None for an example, which opens untitled)."""
    if model:
        path = Path(model)
        return ModelSpec.load(path), path.resolve()
    chosen = example_path(example or DEFAULT_EXAMPLE)
    if not chosen.exists():
        raise SpecError(f"There is no example called '{example}'. Examples: "
                        + ", ".join(p.stem for p in chosen.parent.glob("*.json")))
    return ModelSpec.load(chosen), None


def _application():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("LayerLab")
    app.setOrganizationName("LayerLab")
    return app


def _window(spec: ModelSpec, path: Path | None):
    from gui.document import ModelDocument
    from gui.main_window import MainWindow

    document = ModelDocument(spec)
    if path is not None:
        document.new(spec, path)
    return MainWindow(document)


def run_gui(model: str | None = None, example: str | None = None) -> int:
    try:
        spec, path = _initial_model(model, example)
    except SpecError as err:
        print(f"layerlab: {err}", file=sys.stderr)
        return 2
    app = _application()
    window = _window(spec, path)
    window.show()
    return app.exec()


def take_screenshot(out: str, model: str | None, example: str | None, size: str = "1440x900") -> int:
    """Render the main window with ``model`` (or an example) offscreen to ``out`` and exit."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        width, height = (int(v) for v in size.lower().split("x"))
        spec, path = _initial_model(model, example)
    except ValueError as err:
        msg = str(err) if isinstance(err, SpecError) else f"--size must look like 1440x900, not {size!r}"
        print(f"layerlab: {msg}", file=sys.stderr)
        return 2
    app = _application()
    window = _window(spec, path)
    window.resize(width, height)
    window.show()
    for _ in range(5):  # let layouts and the first paint settle
        app.processEvents()
    prepare = getattr(window, "prepare_screenshot", None)
    if prepare:
        prepare()
        app.processEvents()
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(target)):
        print(f"layerlab: could not write the screenshot to '{target}'.", file=sys.stderr)
        return 1
    window.close()
    return 0
