"""Training throughput with the whole dashboard painting: every view open, against plain PyTorch.

The in-app path is bench.train_throughput's (the Trainer in its own process, probes at their
default rates, events relayed to the GUI by the TrainingController) plus the real MainWindow with the training dashboard installed and all nine views
floating on screen at once, so every view repaints, paced by the dashboard (painting.PAINT_BUDGET). A
10 ms QTimer measures how late the GUI event loop runs. The windows start after a warm-up in
which each view paints for the first time (creating its items costs ~0.1-0.3 s per view, once
per run). The plain loop, the cases and the way the two take turns (P A P A ... P, the app
paused during plain windows) come from bench.train_throughput, so both benchmarks measure the
same thing.

    python -m bench.dashboard_throughput [--seconds S] [--warmup S] [--rounds N] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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
    import tempfile

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


def dashboard_turns(spec, data, rounds: int, seconds: float, threads: int, warmup: float):
    """The in-app path with the whole dashboard painting, against the plain loop."""
    window, board = dashboard_window(spec)
    board.predictions.set_samples(data.x_val, data.y_val, data.class_names)
    board.confusion.set_class_names(data.class_names)
    ctrl = board.controller
    plain = PlainProcess(spec, data, threads)
    settings = TrainSettings(device="cpu", batch_size=BATCH, epochs=10_000, torch_threads=threads)
    ctrl.start(spec, data, settings)
    run_events(warmup)
    pid = ctrl.process.pid
    turns = take_turns(
        ctrl,
        plain,
        rounds,
        seconds,
        lambda: (board.paint_seconds, time.thread_time(), training_cpu(pid)),
    )
    board.shutdown()
    plain.close()
    paints = {title: view.paint_count for title, view in board.views.items()}
    window.close()
    return turns, paints


SCREENSHOTS = (  # (file, example, seconds of training, docks to bring forward, lr, batch)
    ("dashboard_cnn.png", "digits_cnn", 8.0, ("Filters", "Predictions"), 3e-3, 32),
    # The settings under which the README's RNN-vs-LSTM comparison has the LSTM learn the task.
    ("dashboard_lstm.png", "memory_lstm", 25.0, ("Gates", "Gradient flow"), 1e-3, 64),
)


def take_screenshots(app, folder: str) -> None:
    """The window main.py shows, mid-run, for the README (offscreen, 1440×900): built by the
    workbench and started with the Train action, as a user starts a run."""
    import tempfile

    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from gui.editor.document import ModelDocument
    from gui.workbench import build_main_window

    os.makedirs(folder, exist_ok=True)
    for name, example, seconds, docks, lr, batch in SCREENSHOTS:
        ini = os.path.join(tempfile.mkdtemp(), "shot.ini")
        document = ModelDocument(ModelSpec.load(example_path(example)))
        window = build_main_window(document, QSettings(ini, QSettings.Format.IniFormat))
        window.show()
        for _ in range(20):  # the first layout, then the asked size (as main.py --screenshot)
            app.processEvents()
        window.resize(1440, 900)
        board = window.dashboard
        board.panel.epochs_spin.setValue(200)
        board.panel.lr_spin.setValue(lr)
        board.panel.batch_spin.setValue(batch)
        window.train_action.trigger()
        loop = QEventLoop()  # not app.exec(): quitting the app would stop the run (aboutToQuit)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        for title in docks:
            board.docks[title].raise_()
        board.repaint_all()
        for _ in range(10):
            app.processEvents()
        path = os.path.join(folder, name)
        window.grab().save(path)
        board.shutdown()
        # Not close(): the trained weights are unsaved work, and close() would ask about them.
        window.hide()
        window.deleteLater()
        print(f"{path}: {os.path.getsize(path) // 1024} KB")


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
    parser.add_argument("--screenshots", metavar="DIR", help="save dashboard screenshots, no bench")
    args = parser.parse_args(argv)
    from gui.training import painting

    if args.paint_budget is not None:
        painting.PAINT_BUDGET = args.paint_budget
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    if args.screenshots:
        take_screenshots(app, args.screenshots)
        return 0
    rows = []
    for label, example, dataset, options in CASES:
        spec, data, options = load_case(example, dataset, options)
        label = label.replace("T=160", f"T={options.get('seq_len', 160)}")
        turns = dashboard_turns(spec, data, args.rounds, args.seconds, args.threads, args.warmup)
        rows.append((label, *turns))
    print(f"\nTraining throughput with every dashboard view on screen, {args.threads} torch "
          f"thread(s), batch {BATCH}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"{args.rounds} in-app windows of {args.seconds:g} s per model after {args.warmup:g} s "
          f"of warm-up, each between two plain windows of {args.seconds:g} s; paint budget "
          f"{painting.PAINT_BUDGET:.0%}\n")  # fmt: skip
    print("| model | plain samples/s | in-app samples/s | ratio: median (range) "
          "| GUI lateness p50 / p99 ms | training thread busy | GUI thread CPU: frames / all "
          "| paints per view |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    med = statistics.median
    for label, turns, paints in rows:
        ratios = turns.ratios
        frames, gui, busy = (
            [c[k] for c in turns.counters if c[k] is not None] for k in range(3)
        )  # fmt: skip
        p50, p99 = turns.lateness.percentiles()
        painted = ", ".join(f"{t} {n}" for t, n in paints.items() if n)
        print(f"| {label} | {med(turns.plain):,.0f} | {med(turns.app):,.0f} "
              f"| {med(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) "
              f"| {p50:.1f} / {p99:.1f} | {f'{med(busy):.1%}' if busy else 'n/a'} "
              f"| {med(frames):.1%} / {med(gui):.1%} | {painted} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
