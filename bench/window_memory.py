"""The window's memory over a run of 10^6 steps with every view on screen painting.

The real MainWindow with the training dashboard, all nine views floating on screen (as
bench/dashboard_throughput.py shows them), is fed the events of a 10^6-step run through the
dashboard's own slots (on_run_started, on_steps, on_epoch, on_probe: what the
TrainingController delivers), in batches of 1,000 steps, and every view is repainted after
every 5 batches. The events are replayed rather than trained: 10^6 real steps of the digits CNN
take about half an hour on this project's 2 shared cores. The probe snapshots are real: a short
real training run of the digits CNN and one of the memory LSTM, with every probe on, give the
snapshots (filters, feature maps, histograms, gradients, gates, gradient through time, reports)
that are sent again, with new step numbers, every 2,000 steps. RSS is read from /proc after a
garbage collection: after the first 10^4 steps (every view painted once, its plot items made)
and then every 10^5 steps. ``--against REV`` measures that revision the same way.

    python -m bench.window_memory [--steps 1000000] [--against REV]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1_000
PAINT_EVERY = 5  # batches
PROBE_EVERY = 2_000  # steps
EPOCH_STEPS = 10_000


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def real_snapshots() -> list:
    """The newest snapshot of every probe kind from short real runs of a CNN and an LSTM."""
    from bench.train_throughput import load_case
    from engine.training.events import Callback
    from engine.training.settings import TrainSettings
    from engine.training.trainer import Trainer

    class Newest(Callback):
        def __init__(self):
            self.kinds = {}

        def on_probe(self, event):
            if event.data is not None:
                self.kinds[event.kind] = event

    found = {}
    for example, dataset, options in (("digits_cnn", "digits", {}),
                                      ("memory_lstm", "first_symbol", {"n_samples": 300})):  # fmt: skip
        spec, data, _ = load_case(example, dataset, options)
        settings = TrainSettings(epochs=1, device="cpu", batch_size=32, torch_threads=1)
        trainer = Trainer(spec, data, settings)
        newest = Newest()
        trainer.callbacks.append(newest)
        trainer.run()
        found.update(newest.kinds)
    return list(found.values())


def measure(steps: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from bench.dashboard_throughput import dashboard_window
    from engine.model.examples import example_path
    from engine.model.spec import ModelSpec
    from engine.training.events import EpochMetrics, RunStarted, StepMetrics

    snapshots = real_snapshots()
    window, board = dashboard_window(ModelSpec.load(example_path("digits_cnn")))
    app.processEvents()
    board.on_run_started(RunStarted(1, "digits CNN", "digits", "cpu", steps // EPOCH_STEPS,
                                    EPOCH_STEPS, {"lr": 0.001}))  # fmt: skip
    samples = []
    for begin in range(0, steps, BATCH):
        batch = [
            StepMetrics(1, s, s // EPOCH_STEPS + 1, 1.0 / (1 + s / 1e4) + (s % 7) * 1e-3, 0.001,
                        5000.0, None, min(1.0, s / steps))
            for s in range(begin + 1, begin + BATCH + 1)
        ]  # fmt: skip
        board.on_steps(batch)
        end = begin + BATCH
        if end % EPOCH_STEPS == 0:
            board.on_epoch(EpochMetrics(1, end // EPOCH_STEPS, end, 0.5, 0.55, 0.8, 0.78))
        if end % PROBE_EVERY == 0:
            for snapshot in snapshots:
                board.on_probe(dataclasses.replace(snapshot, run_id=1, step=end))
        if (end // BATCH) % PAINT_EVERY == 0:
            board.repaint_all()
            app.processEvents()
        if end in (EPOCH_STEPS, steps) or end % 100_000 == 0:
            gc.collect()
            samples.append((end, round(rss_mb(), 1)))
    window.close()
    return {"samples": samples, "growth": round(samples[-1][1] - samples[0][1], 1)}


def _measure_in(tree: Path, steps: int) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, '.'); from bench.window_memory import measure; "
        f"print(json.dumps(measure({steps})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the measurement in {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--against", help="a git revision to measure after this one")
    args = parser.parse_args(argv)
    trees = {"now": ROOT}
    if args.against:
        tree = Path(tempfile.mkdtemp(prefix="layerlab-rev-"))
        archive = subprocess.run(["git", "archive", args.against], cwd=ROOT, capture_output=True,
                                 check=True)  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        shutil.copy(Path(__file__), tree / "bench" / "window_memory.py")
        trees[args.against] = tree
    for name, tree in trees.items():
        result = _measure_in(tree, args.steps)
        samples = ", ".join(f"{s // 1000}k: {mb:.0f}" for s, mb in result["samples"])
        print(f"{name}: RSS growth {result['growth']:.1f} MB from step {EPOCH_STEPS} to "
              f"{args.steps} (MB at steps: {samples})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
