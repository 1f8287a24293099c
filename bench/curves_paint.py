"""What one frame of the Loss curves costs late in a run of short epochs, split into the view's
own update (``paint``: the curves' data handed to pyqtgraph) and the drawing (``render``).

The view is made at the size of a Train grid cell at 1920×1080 (930×440), holds a run of the
moons MLP's shape (``--steps`` steps, an epoch every 25: 1,200 epochs for 30,000 steps) and is
drawn offscreen, frame after frame. Two ways of drawing the dashed validation curves take turns
(T E T E ...): thinned to a point every ``DASHED_PX_PER_POINT`` pixels with a 1 px dashed
pen, as the view draws them past their dots, and a point every epoch with the 2 px dashed pen,
as it drew them before (stroked dash by dash).

    python -m bench.curves_paint [--steps N] [--size WxH] [--frames N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

STEPS_PER_EPOCH = 25  # the moons MLP's 800 samples in batches of 32


def make_view(steps: int, size: tuple[int, int]):
    """A Loss curves view holding ``steps`` steps and their epochs, shown at ``size``."""
    from engine.training.events import EpochMetrics, RunStarted
    from gui.training.views import LossCurvesView

    view = LossCurvesView()
    view.resize(*size)
    view.show()
    epochs = steps // STEPS_PER_EPOCH
    view.start_run(RunStarted(1, "moons MLP", "moons", "cpu", epochs, STEPS_PER_EPOCH, {}))
    rng = np.random.default_rng(0)
    x = np.arange(1, steps + 1, dtype=np.float64)
    view.add_points(1, x, 0.3 + 0.7 / np.sqrt(x) + 0.1 * rng.random(steps))
    for epoch in range(1, epochs + 1):
        view.add_epoch(EpochMetrics(
            1, epoch, epoch * STEPS_PER_EPOCH, 0.3, 0.32 + 0.02 * rng.random(), 0.85,
            0.86 + 0.01 * rng.random(),
        ))  # fmt: skip
    return view


def frames(view, image, count: int) -> tuple[list[float], list[float]]:
    """``count`` frames: ms of the view's update and of drawing it, each."""
    update, draw = [], []
    for _ in range(count):
        t0 = time.perf_counter()
        view.repaint_now()
        t1 = time.perf_counter()
        view.render(image)
        t2 = time.perf_counter()
        update.append((t1 - t0) * 1000)
        draw.append((t2 - t1) * 1000)
    return update, draw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000, help="steps in the run")
    parser.add_argument("--size", default="930x440", help="the view's size, WxH")
    parser.add_argument("--frames", type=int, default=20, help="frames per turn")
    parser.add_argument("--rounds", type=int, default=4, help="turns of each way")
    args = parser.parse_args(argv)
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from gui.app import paint_on_the_gui_thread_only

    paint_on_the_gui_thread_only()  # as the app does
    app = QApplication.instance() or QApplication([])
    import gui.training.views.curves as curves

    size = tuple(int(v) for v in args.size.lower().split("x"))
    view = make_view(args.steps, size)
    app.processEvents()
    image = QImage(view.size(), QImage.Format.Format_ARGB32_Premultiplied)
    thinned = curves.DASHED_PX_PER_POINT
    run = view.runs[-1]
    # (px per point, width): 1e-9 px is never thinned; the 2 px pen is the one with the dots.
    ways = {"thinned, 1 px (now)": (thinned, False), "every epoch, 2 px (before)": (1e-9, True)}
    results: dict[str, tuple[list[float], list[float]]] = {way: ([], []) for way in ways}
    frames(view, image, 5)  # the first frames create the items' caches
    for _ in range(args.rounds):
        for way, (px, wide) in ways.items():
            curves.DASHED_PX_PER_POINT = px
            for key in ("val_loss", "val_metric"):
                run.items[key].setPen(curves.validation_pen(run.colour, dots=wide))
            update, draw = frames(view, image, args.frames)
            results[way][0].extend(update)
            results[way][1].extend(draw)
    curves.DASHED_PX_PER_POINT = thinned
    epochs = args.steps // STEPS_PER_EPOCH
    print(f"\nLoss curves at {size[0]}×{size[1]}, {args.steps:,} steps and {epochs:,} epochs, "
          f"{args.rounds} turns of {args.frames} frames each way; median ms a frame\n")  # fmt: skip
    print("| validation curves | update (paint) | draw (render) | frame |")
    print("|---|---:|---:|---:|")
    med = statistics.median
    for way, (update, draw) in results.items():
        total = [u + d for u, d in zip(update, draw, strict=True)]
        print(f"| {way} | {med(update):.1f} | {med(draw):.1f} | {med(total):.1f} |")
    view.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
