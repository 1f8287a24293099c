"""Training throughput with the dashboard painting, against plain PyTorch.

The in-app path is bench.train_throughput's (the Trainer in its own process, probes at their
default rates, events relayed to the GUI by the TrainingController) plus a window painting
the views, paced by the dashboard (painting.REPAINT_HZ, painting.PAINT_BUDGET). Two layouts:
``--layout train`` (the default) is the window `python main.py` shows
(gui.workbench.build_main_window) in the Train workspace, as a user sees a run, at each
``--sizes`` (1280×800 and 1920×1080; the offscreen screen is 2560×1440 so both fit);
``--layout floating`` is the editor window with all nine views floating at ~480×360, so every
view repaints. The loss curves' redraws per second are counted. A
10 ms QTimer measures how late the GUI event loop runs. The windows start after a warm-up in
which each view paints for the first time (creating its items costs ~0.1-0.3 s per view, once
per run). The plain loop, the cases and the way the two take turns (P A P A ... P, the app
paused during plain windows) come from bench.train_throughput, so both benchmarks measure the
same thing.

    python -m bench.dashboard_throughput [--layout train|floating] [--sizes 1280x800,...]
        [--models digits,lstm] [--seconds S] [--warmup S] [--rounds N] [--threads N]
        [--repaint-hz HZ] [--paint-budget SHARE] [--default-adam] [--qt-thread-pool]
        [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import json  # noqa: E402
import os
import statistics
import tempfile  # noqa: E402
import time

# An offscreen screen large enough for a 1920×1080 window (the platform's own is 800×800, and
# the window fits itself to its screen).
_SCREEN = os.path.join(tempfile.mkdtemp(), "screen.json")
with open(_SCREEN, "w", encoding="utf-8") as _out:
    json.dump({"screens": [{"name": "bench", "x": 0, "y": 0, "width": 2560, "height": 1440,
                            "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}, _out)  # fmt: skip
os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={_SCREEN}")

import torch  # noqa: E402

from bench.train_throughput import (  # noqa: E402
    BATCH,
    CASES,
    PlainProcess,
    load_case,
    run_events,
    take_turns,
    training_cpu,
)
from engine.model.examples import example_path  # noqa: E402
from engine.model.spec import ModelSpec  # noqa: E402
from engine.training.settings import TrainSettings  # noqa: E402


def dashboard_window(spec):
    """A MainWindow with the dashboard installed and every view floating, visible, ~480×360."""
    from PySide6.QtCore import QSettings

    from gui.editor.document import ModelDocument
    from gui.main_window import MainWindow
    from gui.training.dashboard import install

    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.Format.IniFormat)
    document = ModelDocument(spec)
    window = MainWindow(document, settings)
    window.resize(1440, 900)
    board = install(window, document)
    window.show()
    for index, title in enumerate(board.views):
        dock = board.docks[title]
        dock.setFloating(True)
        dock.resize(480, 360)
        dock.move(40 + 60 * index, 40 + 30 * index)
        dock.show()
    return window, board


def train_workspace_window(spec, size: tuple[int, int]):
    """The window main.py shows (throw-away settings), in the Train workspace at ``size``."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gui.editor.document import ModelDocument
    from gui.workbench import build_main_window

    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.Format.IniFormat)
    window = build_main_window(ModelDocument(spec), settings)
    window.show()
    for _ in range(20):
        QApplication.processEvents()
    window.resize(*size)
    window.workspaces.show("train")
    for _ in range(20):
        QApplication.processEvents()
    return window, window.dashboard


def dashboard_turns(spec, data, rounds, seconds, threads, warmup, size=None, fused=True):
    """The in-app path with the dashboard painting (the Train workspace at ``size``, or every
    view floating when ``size`` is None), against the plain loop."""
    window, board = dashboard_window(spec) if size is None else train_workspace_window(spec, size)
    board.show_dataset(data)  # what Train gives the views: samples and class names
    ctrl = board.controller
    plain = PlainProcess(spec, data, threads, fused=fused)
    settings = TrainSettings(device="cpu", batch_size=BATCH, epochs=10_000, torch_threads=threads)
    ctrl.start(spec, data, settings)
    run_events(warmup)
    pid = ctrl.process.pid
    turns = take_turns(
        ctrl,
        plain,
        rounds,
        seconds,
        lambda: (board.paint_seconds, time.thread_time(), training_cpu(pid),
                 board.curves.paint_count),
    )  # fmt: skip
    board.shutdown()
    plain.close()
    paints = {title: view.paint_count for title, view in board.views.items()}
    window.hide()  # not close(): the run's weights are unsaved work, and close() would ask
    window.deleteLater()
    return turns, paints


SCREENSHOTS = (  # (name, example, seconds of training, docks to bring forward, lr, batch)
    ("cnn", "digits_cnn", 8.0, ("Filters", "Feature maps"), 3e-3, 32),
    # The settings under which the README's RNN-vs-LSTM comparison has the LSTM learn the task.
    ("lstm", "memory_lstm", 25.0, ("Gates", "Gradient flow"), 1e-3, 64),
)
SHOT_SIZES = ((1280, 800), (1920, 1080))
# bench.train_throughput's models; the moons MLP, a classifier of 2-D points, has the Decision
# regions in its Train grid (a heatmap of the model over the input plane, the dearest view).
DASHBOARD_CASES = CASES


def _settle(app, rounds: int = 10) -> None:
    from PySide6.QtCore import QEvent

    for _ in range(rounds):
        app.processEvents()
    # Re-tabbed docks leave their old tab bars to deleteLater, which processEvents alone
    # does not run; without this they show as stale tab bars in the picture.
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()


def _shoot(window, folder: str, name: str) -> None:
    path = os.path.join(folder, name)
    window.grab().save(path)
    print(f"{path}: {os.path.getsize(path) // 1024} KB")


def take_screenshots(app, folder: str) -> None:
    """The window main.py shows, for the README (offscreen): the Build workspace of the CNN
    and, mid-run, the Train workspace of a CNN and of an LSTM run, each at 1280×800 and
    1920×1080. Built by the workbench and started with the Train action, as a user starts a
    run (which switches to the Train workspace)."""
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from gui.editor.document import ModelDocument
    from gui.workbench import build_main_window

    os.makedirs(folder, exist_ok=True)
    for name, example, seconds, docks, lr, batch in SCREENSHOTS:
        ini = os.path.join(tempfile.mkdtemp(), "shot.ini")
        document = ModelDocument(ModelSpec.load(example_path(example)))
        window = build_main_window(document, QSettings(ini, QSettings.Format.IniFormat))
        window.show()
        _settle(app, 20)  # the first layout, then the asked size (as main.py --screenshot)
        if name == "cnn":
            window.dataset_panel.session.wait(60.0)
            document.set_selection([document.spec.blocks[0].id])  # the Inspector's fields
            for width, height in SHOT_SIZES:
                window.resize(width, height)
                _settle(app)
                window.view.fit_to_model()
                _settle(app)
                _shoot(window, folder, f"build_{width}x{height}.png")
        board = window.dashboard
        board.panel.epochs_spin.setValue(200)
        board.panel.lr_spin.setValue(lr)
        board.panel.batch_spin.setValue(batch)
        window.resize(*SHOT_SIZES[0])
        window.train_action.trigger()
        # The seconds count from the first step: on a busy machine the training process can
        # take a while to start (its fork server imports torch).
        deadline = time.monotonic() + 120
        while board.last_step is None and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.02)
        loop = QEventLoop()  # not app.exec(): quitting the app would stop the run (aboutToQuit)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        board.controller.pause()  # the same moment of the run at both sizes
        for width, height in SHOT_SIZES:
            window.resize(width, height)
            _settle(app)
            board.dock_layout.default_sizes()
            for title in docks:
                board.docks[title].raise_()
            _settle(app)
            board.repaint_all()
            _settle(app)
            _shoot(window, folder, f"train_{name}_{width}x{height}.png")
        if name == "cnn":  # View › Views Only at the laptop size
            window.resize(*SHOT_SIZES[0])
            board.dock_layout.views_only_action.trigger()
            _settle(app)
            board.repaint_all()
            _settle(app)
            _shoot(
                window, folder, f"train_{name}_views_only_{SHOT_SIZES[0][0]}x{SHOT_SIZES[0][1]}.png"
            )
            board.dock_layout.views_only_action.trigger()
        board.shutdown()
        # Not close(): the trained weights are unsaved work, and close() would ask about them.
        window.hide()
        window.deleteLater()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per window")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both paths")
    parser.add_argument("--rounds", type=int, default=5, help="in-app windows per model")
    parser.add_argument(
        "--warmup", type=float, default=5.0,
        help="seconds of the app run before the first window: each view's first paint, which "
        "creates its items (~0.1-0.3 s each, once per run), falls in it",
    )  # fmt: skip
    parser.add_argument(
        "--paint-budget", type=float, metavar="SHARE",
        help="share of wall time the views may paint (default: gui.training.painting.PAINT_BUDGET)",
    )  # fmt: skip
    parser.add_argument(
        "--repaint-hz", type=float, metavar="HZ",
        help="the views' top frame rate (default: gui.training.painting.REPAINT_HZ)",
    )  # fmt: skip
    parser.add_argument(
        "--layout",
        choices=("train", "floating"),
        default="train",
        help="the Train workspace as a user sees it, or nine floating views",
    )
    parser.add_argument(
        "--sizes",
        default="1280x800,1920x1080",
        help="window sizes for --layout train, comma-separated",
    )
    parser.add_argument(
        "--models",
        default="",
        help="comma-separated words picking models by label (e.g. digits,LSTM)",
    )
    parser.add_argument("--qt-thread-pool", action="store_true", help="let Qt split large "
                        "fills across its GUI thread pool, as before LayerLab asked it not to "
                        "(gui.app.paint_on_the_gui_thread_only)")  # fmt: skip
    parser.add_argument("--default-adam", action="store_true", help="the plain loop uses "
                        "torch's default Adam, as a user's script does (bench.train_throughput)")  # fmt: skip
    parser.add_argument("--screenshots", metavar="DIR", help="save dashboard screenshots, no bench")
    args = parser.parse_args(argv)  # fmt: skip
    from gui.training import painting

    if args.paint_budget is not None:
        painting.PAINT_BUDGET = args.paint_budget
    if args.repaint_hz is not None:
        painting.REPAINT_HZ = args.repaint_hz
    from PySide6.QtWidgets import QApplication

    from gui.app import paint_on_the_gui_thread_only

    if args.qt_thread_pool:
        os.environ.pop("QT_NO_GUI_THREADPOOL", None)
    else:
        paint_on_the_gui_thread_only()  # as the app does
    app = QApplication.instance() or QApplication([])
    if args.screenshots:
        take_screenshots(app, args.screenshots)
        return 0
    sizes = [None]
    if args.layout == "train":
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    picks = [w.lower() for w in args.models.split(",") if w]
    rows = []
    for label, example, dataset, options in DASHBOARD_CASES:
        if picks and not any(w in label.lower() for w in picks):
            continue
        spec, data, options = load_case(example, dataset, options)
        label = label.replace("T=160", f"T={options.get('seq_len', 160)}")
        for size in sizes:
            turns = dashboard_turns(
                spec, data, args.rounds, args.seconds, args.threads, args.warmup, size,
                fused=not args.default_adam,
            )  # fmt: skip
            where = "" if size is None else f", {size[0]}×{size[1]}"
            rows.append((label + where, *turns))
    shown = ("the Train workspace" if args.layout == "train"
             else "every dashboard view floating")  # fmt: skip
    print(f"\nTraining throughput with {shown} on screen, {args.threads} torch "
          f"thread(s), batch {BATCH}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"{args.rounds} in-app windows of {args.seconds:g} s per model after {args.warmup:g} s "
          f"of warm-up, each between two plain windows of {args.seconds:g} s; paint budget "
          f"{painting.PAINT_BUDGET:.0%}, top rate {painting.REPAINT_HZ:g}/s"
          f"{'; plain loop with torch default Adam' if args.default_adam else ''}\n")  # fmt: skip
    print("| model | plain samples/s | in-app samples/s | ratio: median (range) "
          "| curves redraws/s | GUI lateness p50 / p99 ms | training thread busy "
          "| GUI thread CPU: frames / all | paints per view |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    med = statistics.median
    for label, turns, paints in rows:
        ratios = turns.ratios
        frames, gui, busy, redraws = (
            [c[k] for c in turns.counters if c[k] is not None] for k in range(4)
        )  # fmt: skip
        p50, p99 = turns.lateness.percentiles()
        painted = ", ".join(f"{t} {n}" for t, n in paints.items() if n)
        print(f"| {label} | {med(turns.plain):,.0f} | {med(turns.app):,.0f} "
              f"| {med(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) "
              f"| {med(redraws):.1f} | {p50:.1f} / {p99:.1f} | {f'{med(busy):.1%}' if busy else 'n/a'} "
              f"| {med(frames):.1%} / {med(gui):.1%} | {painted} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
