"""The layers' import rules (DESIGN.md, "Layers, and what may import what"), kept by tests.

- engine/ never imports Qt, even indirectly: it runs headless and in the training process.
- The torch-free part of engine (the model, data, probe snapshots and registry, training
  settings and events, the process's parent side) imports no torch: the window uses it to draw
  and check a model while torch is still loading.
- The window that ``python main.py`` shows is on screen before torch is imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine"
QT = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "qtpy", "shiboken6")
# The torch-free part of the engine: whole packages, and single modules elsewhere.
TORCH_FREE_PACKAGES = ("engine/model", "engine/data")
TORCH_FREE_MODULES = (
    "engine.probes",
    "engine.probes.snapshots",
    "engine.probes.registry",
    "engine.training.settings",
    "engine.training.control",
    "engine.training.relay",
    "engine.training.events",
    "engine.training.process",
    "engine.cli",
)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def _top_level_imports(path: Path) -> list[str]:
    """Modules imported at module level (not inside functions, which run later)."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def test_no_qt_import_statement_in_engine():
    offenders = []
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{_module_name(path)}: {n}" for n in names if n.split(".")[0] in QT]
    assert offenders == []


def test_importing_every_engine_module_loads_no_qt():
    modules = sorted(_module_name(p) for p in ENGINE.rglob("*.py"))
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT!r}))\n"
    )
    assert _run(code) == "[]"


def test_the_model_part_of_engine_has_no_top_level_torch_import():
    paths = [p for pkg in TORCH_FREE_PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    offenders = [
        f"{_module_name(p)}: {name}"
        for p in paths
        for name in _top_level_imports(p)
        if name.split(".")[0] == "torch" or name.startswith(("engine.nn", "engine.export"))
    ]
    assert offenders == []


def test_importing_the_torch_free_engine_loads_no_torch():
    modules = sorted(
        {_module_name(p) for pkg in TORCH_FREE_PACKAGES for p in (ROOT / pkg).rglob("*.py")}
        | set(TORCH_FREE_MODULES)
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "from engine.model.examples import list_examples\n"
        "from engine.model.inference import infer\n"
        "[infer(e.load()) for e in list_examples()]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))\n"
    )
    assert _run(code) == "[]"


def test_importing_the_workbench_loads_no_torch():
    code = "import sys, gui.workbench\nprint('torch' in sys.modules)\n"
    assert _run(code) == "False"


def test_the_window_main_py_shows_is_on_screen_before_torch():
    """Builds the very window ``python main.py`` opens (gui.app.open_window), lets it paint
    and settle, and checks torch was never imported in this process."""
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from gui.app import open_window\n"
        "app, window = open_window()\n"
        "for _ in range(20): app.processEvents()\n"
        "assert window.isVisible() and window.dashboard is not None\n"
        "window.document.new(window.document.spec)  # the model is usable: edit, infer\n"
        "print('torch' in sys.modules)\n"
    )
    assert _run(code) == "False"
