"""Training throughput with the whole dashboard painting: every view open, against plain PyTorch.

The in-app path is bench.train_throughput's (the Trainer in its own process, probes at their
default rates, events relayed to the GUI by the TrainingController) plus the real MainWindow with the training dashboard installed and all nine views
floating on screen at once, so every view repaints, paced by the dashboard (PAINT_BUDGET). A
10 ms QTimer measures how late the GUI event loop runs. The measurement starts after a warm-up
in which each view paints for the first time (creating its items costs ~0.1-0.3 s per view,
once per run). The plain loop and the cases are imported from bench.train_throughput so both
benchmarks measure the same thing.

    python -m bench.dashboard_throughput [--seconds S] [--warmup S] [--repeats N] [--threads N]
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
    LatenessProbe,
    plain_rate,
    training_cpu,
)
from engine.data import load_builtin  # noqa: E402
from engine.examples import example_path  # noqa: E402
from engine.spec import ModelSpec  # noqa: E402
from engine.train import TrainSettings  # noqa: E402


def dashboard_window(spec):
    """A MainWindow with the dashboard installed and every view floating, visible, ~480×360."""
    import tempfile

    from PySide6.QtCore import QSettings

    from gui.document import ModelDocument
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


def app_rate(app, spec, data, seconds: float, threads: int, warmup: float = 5.0):
    """Samples/s with the dashboard painting, lateness p50/p99 (ms), paints per view, the
    shares of wall time the GUI thread spent on frames of the views and in all (CPU time), and
    the training thread's busy share (None where it cannot be read)."""
    from PySide6.QtCore import QTimer

    window, board = dashboard_window(spec)
    board.predictions.set_samples(data.x_val, data.y_val, data.class_names)
    board.confusion.set_class_names(data.class_names)
    ctrl = board.controller
    got = {"steps": []}
    ctrl.steps_received.connect(lambda s: got["steps"].extend(s))
    lateness = LatenessProbe()
    marks = {}

    def mark(name):
        marks[name] = (
            time.perf_counter(), len(got["steps"]), board.paint_seconds, time.thread_time(),
            training_cpu(ctrl.process.pid),
        )  # fmt: skip

    settings = TrainSettings(device="cpu", batch_size=BATCH, epochs=10_000, torch_threads=threads)
    ctrl.start(spec, data, settings)
    QTimer.singleShot(int(warmup * 1000), lambda: mark("from"))
    QTimer.singleShot(int((warmup + seconds) * 1000), lambda: (mark("to"), app.quit()))
    app.exec()
    (t0, n0, p0, g0, c0), (t1, n1, p1, g1, c1) = marks["from"], marks["to"]
    elapsed = t1 - t0
    board.shutdown()
    lateness.stop()
    paints = {title: view.paint_count for title, view in board.views.items()}
    window.close()
    rate = (n1 - n0) * BATCH / elapsed
    return (
        rate,
        *lateness.percentiles(),
        paints,
        (p1 - p0) / elapsed,
        (g1 - g0) / elapsed,
        None if c0 is None or c1 is None else (c1 - c0) / elapsed,
    )


SCREENSHOTS = (  # (file, example, seconds of training, docks to bring forward, lr, batch)
    ("dashboard_cnn.png", "digits_cnn", 8.0, ("Filters", "Predictions"), 3e-3, 32),
    # The settings under which the README's RNN-vs-LSTM comparison has the LSTM learn the task.
    ("dashboard_lstm.png", "memory_lstm", 25.0, ("Gates", "Gradient flow"), 1e-3, 64),
)


def take_screenshots(app, folder: str) -> None:
    """The main window with the dashboard, mid-run, for the README (offscreen, 1440×900)."""
    import tempfile

    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from gui.document import ModelDocument
    from gui.main_window import MainWindow
    from gui.training.dashboard import install

    os.makedirs(folder, exist_ok=True)
    for name, example, seconds, docks, lr, batch in SCREENSHOTS:
        ini = os.path.join(tempfile.mkdtemp(), "shot.ini")
        document = ModelDocument(ModelSpec.load(example_path(example)))
        window = MainWindow(document, QSettings(ini, QSettings.Format.IniFormat))
        window.resize(1440, 900)
        board = install(window, document)
        window.show()
        board.panel.epochs_spin.setValue(200)
        board.panel.lr_spin.setValue(lr)
        board.panel.batch_spin.setValue(batch)
        board.train()
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
        window.close()
        print(f"{path}: {os.path.getsize(path) // 1024} KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both paths")
    parser.add_argument("--repeats", type=int, default=3, help="app runs per model (median)")
    parser.add_argument(
        "--warmup", type=float, default=5.0,
        help="seconds of the app run before measuring: each view's first paint, which creates "
        "its items (~0.1-0.3 s each, once per run), falls in it",
    )  # fmt: skip
    parser.add_argument("--screenshots", metavar="DIR", help="save dashboard screenshots, no bench")
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    if args.screenshots:
        take_screenshots(app, args.screenshots)
        return 0
    rows = []
    for label, example, dataset, options in CASES:
        spec = ModelSpec.load(example_path(example))
        if spec.dataset == dataset:
            # The example's own options win (memory_lstm moved to 120 steps): the Trainer
            # refuses a dataset whose shape does not fit the model's Input block.
            options = {**options, **spec.dataset_options}
            label = label.replace("T=30", f"T={options.get('seq_len', 30)}")
        data = load_builtin(dataset, **options)
        # Plain and app runs alternate, each app run against the mean of the plain runs
        # around it: the machine is shared, and its speed drifts by 10-20 % between runs.
        plains = [plain_rate(spec, data, args.seconds, args.threads)]
        runs = []
        for _ in range(args.repeats):
            runs.append(app_rate(app, spec, data, args.seconds, args.threads, args.warmup))
            plains.append(plain_rate(spec, data, args.seconds, args.threads))
        rows.append((label, plains, runs))
    print(f"\nTraining throughput with every dashboard view on screen, {args.threads} torch "
          f"thread(s), batch {BATCH}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"{args.repeats} app runs per model, each measured for {args.seconds:g} s after "
          f"{args.warmup:g} s of warm-up, between plain runs of {args.seconds:g} s\n")  # fmt: skip
    print("| model | plain samples/s | in-app samples/s | ratio: median (range) "
          "| GUI lateness p50 / p99 ms | training thread busy | GUI thread CPU: frames / all "
          "| paints per view (last run) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for label, plains, runs in rows:
        ratios = [
            run[0] / ((a + b) / 2) for run, a, b in zip(runs, plains, plains[1:], strict=False)
        ]
        med = statistics.median
        busy = [run[6] for run in runs if run[6] is not None]
        painted = ", ".join(f"{t} {n}" for t, n in runs[-1][3].items() if n)
        print(f"| {label} | {med(plains):,.0f} | {med(r[0] for r in runs):,.0f} "
              f"| {med(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) "
              f"| {med(r[1] for r in runs):.1f} / {max(r[2] for r in runs):.1f} "
              f"| {f'{med(busy):.1%}' if busy else 'n/a'} "
              f"| {med(r[4] for r in runs):.1%} / {med(r[5] for r in runs):.1%} | {painted} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
