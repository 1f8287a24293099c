"""Opening 20 recorded runs of 10^5 steps each: from the Runs panel reading the runs to the
list shown, and to every run's curves on screen with all 20 ticked.

The run folders are written by the engine's own recorder (RunRecorder fed the events a
Trainer sends: RunStarted, 10^5 StepMetrics, an EpochMetrics every 10^4 steps, Finished), so
they hold what a real run writes, metrics.npz included; the step values are generated. They
are made once and kept in --dir. Each measurement runs in a fresh interpreter, with the files
in the disk cache (a first, unmeasured open reads them in). ``--against REV`` measures that
revision of LayerLab (its RunsPanel on the same folders) alternately with this one.

    python -m bench.runs_open [--runs 20] [--steps 100000] [--rounds 3] [--against REV]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path(tempfile.gettempdir()) / "layerlab-bench-runs-open"
EPOCH_STEPS = 10_000


def make_runs(folder: Path, runs: int, steps: int) -> list[Path]:
    """``runs`` run folders of ``steps`` steps each, written by RunRecorder."""
    from engine.model.examples import example_path
    from engine.model.spec import ModelSpec
    from engine.runs.folder import new_run_folder
    from engine.runs.recorder import RunRecorder
    from engine.training.events import EpochMetrics, Finished, RunStarted, StepMetrics

    spec = ModelSpec.load(example_path("moons_mlp"))
    made = []
    rng = np.random.default_rng(0)
    for i in range(runs):
        lr = round(0.001 * (i + 1), 4)
        settings = {"optimizer": "adam", "lr": lr, "batch_size": 32, "epochs": steps // EPOCH_STEPS}
        # What RunRecorder reads of a Trainer: no model, so no checkpoint is written.
        trainer = SimpleNamespace(spec=spec, dataset=SimpleNamespace(name="moons"),
                                  dataset_options={}, setup=None, model=None, step=steps)  # fmt: skip
        path = new_run_folder(folder, f"bench-{i:02d}")
        recorder = RunRecorder(path, trainer, tensorboard=False)
        epochs = max(1, steps // EPOCH_STEPS)
        recorder.on_run_start(
            RunStarted(1, spec.name, "moons", "cpu", epochs, EPOCH_STEPS, settings)
        )
        s = np.arange(1, steps + 1)
        loss = 0.7 * np.exp(-s / (steps / (3 + i))) + 0.05 + 0.02 * rng.standard_normal(steps)
        accuracy = np.clip(1.0 - loss, 0.0, 1.0)
        for k in range(steps):
            step = k + 1
            epoch = k // EPOCH_STEPS + 1
            recorder.on_step_end(StepMetrics(1, step, epoch, float(loss[k]), lr, 5000.0, None,
                                             float(accuracy[k])))  # fmt: skip
            if step % EPOCH_STEPS == 0:
                recorder.on_epoch_end(EpochMetrics(1, epoch, step, float(loss[k]),
                                                   float(loss[k]) + 0.01, float(accuracy[k]),
                                                   float(accuracy[k]) - 0.01))  # fmt: skip
        recorder.on_finish(Finished(1, steps, epochs, False, 1.0, 5000.0, None))
        assert recorder.problem is None, recorder.problem
        made.append(path)
    return made


def measure(data_dir: Path) -> dict[str, float]:
    """Seconds from the panel's first read to the list shown, and to every curve drawn."""
    os.environ["LAYERLAB_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from gui.editor.document import ModelDocument
    from gui.runs.panel import RunsPanel
    from gui.training.views.curves import LossCurvesView

    curves = LossCurvesView()
    curves.resize(1000, 600)
    curves.show()
    document = ModelDocument()
    app.processEvents()
    started = time.perf_counter()
    panel = RunsPanel(document, curves)  # reads the runs (refresh) as the window's does
    panel.show()
    app.processEvents()
    listed = time.perf_counter() - started
    rows = panel.rows()
    if hasattr(panel, "set_ticked_runs"):  # ticked together (older revisions: one by one)
        panel.set_ticked_runs(list(panel.runs), True)
    else:
        for path in list(panel.runs):
            panel.set_ticked(path, True)
    curves.repaint_now()
    curves.graphics.grab()  # renders the scene: every overlaid curve painted
    app.processEvents()
    drawn = time.perf_counter() - started
    points = sum(r.train_loss.size for r in panel.overlays.values())
    return {"listed": listed, "curves": drawn, "runs": len(rows), "overlays": len(panel.overlays),
            "points": points}  # fmt: skip


def _measure_in(tree: Path, data_dir: Path) -> dict[str, float]:
    code = (
        "import json, sys; sys.path.insert(0, '.'); from bench.runs_open import measure; "
        f"print(json.dumps(measure(__import__('pathlib').Path({str(data_dir)!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True,
                         check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _checkout(rev: str) -> Path:
    """``rev``'s tree in a temporary folder, with this benchmark in its bench/."""
    tree = Path(tempfile.mkdtemp(prefix="layerlab-rev-"))
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    shutil.copy(Path(__file__), tree / "bench" / "runs_open.py")
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--against", help="a git revision to measure alternately with this one")
    args = parser.parse_args(argv)
    runs_dir = args.dir / "runs"
    existing = sorted(runs_dir.glob("bench-*")) if runs_dir.is_dir() else []
    if len(existing) != args.runs:
        shutil.rmtree(args.dir, ignore_errors=True)
        started = time.perf_counter()
        make_runs(runs_dir, args.runs, args.steps)
        print(
            f"wrote {args.runs} runs of {args.steps} steps in {time.perf_counter() - started:.0f} s"
        )
    trees = {"now": ROOT}
    if args.against:
        trees[args.against] = _checkout(args.against)
    for tree in trees.values():
        _measure_in(tree, args.dir)  # the files into the disk cache; caches written
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            results[name].append(_measure_in(tree, args.dir))
    for name, found in results.items():
        listed = [r["listed"] for r in found]
        drawn = [r["curves"] for r in found]
        print(f"{name}: {found[0]['runs']} runs listed in {statistics.median(listed):.3f} s "
              f"({min(listed):.3f}-{max(listed):.3f}); {found[0]['overlays']} ticked, curves on "
              f"screen {statistics.median(drawn):.3f} s ({min(drawn):.3f}-{max(drawn):.3f}); "
              f"{found[0]['points']} training-loss points drawn")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
