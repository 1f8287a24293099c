"""In-app training against a plain PyTorch loop: same model, data, batch size and threads.

In-app = Trainer + probes at their default rates in the training process, its events relayed
to the GUI process and re-emitted by the TrainingController, with an offscreen QApplication
whose slots receive every signal, plus a 10 ms QTimer that measures how late the GUI event loop
runs. Plain = the shortest honest loop: shuffled
batches, forward, cross-entropy, backward, Adam step, one loss.item() per step.

    python -m bench.train_throughput [--seconds S] [--repeats N] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.build import build_model  # noqa: E402
from engine.data import load_builtin  # noqa: E402
from engine.examples import example_path  # noqa: E402
from engine.spec import ModelSpec  # noqa: E402
from engine.train import TrainSettings  # noqa: E402

CASES = (  # (label, example, dataset, options)
    ("digits CNN 8×8", "digits_cnn", "digits", {}),
    ("shapes CNN 28×28", "shapes_cnn", "shapes", {"n_samples": 1500}),
    ("LSTM first_symbol T=160", "memory_lstm", "first_symbol", {"seq_len": 160, "n_samples": 1500}),
)
BATCH = 32
WARMUP = 1.0


def plain_rate(spec, data, seconds: float, threads: int) -> float:
    """Samples/s of a plain loop run for about ``seconds``."""
    torch.set_num_threads(threads)
    model = build_model(spec, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    xv, yv = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
    gen = torch.Generator().manual_seed(0)
    samples, start, counted = 0, time.perf_counter(), None
    while True:
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()
            now = time.perf_counter()
            if counted is None and now - start >= WARMUP:
                samples, counted = 0, now
            samples += len(idx)
            if counted is not None and now - counted >= seconds:
                return samples / (now - counted)
        with torch.no_grad():
            model.eval()
            (model(xv).argmax(1) == yv).float().mean().item()
            model.train()


def training_cpu(pid: int | None) -> float | None:
    """CPU seconds of the training process's main thread, where the Trainer runs, read from
    /proc; None where there is no /proc or no such process.

    Busy time against wall time says how much the training was kept waiting whatever the
    machine's speed at that moment, which the noisy ratio cannot."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            stat = f.read()
    except (OSError, TypeError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LatenessProbe:
    """A 10 ms QTimer on the GUI thread that records how late each tick fires: how long the
    event loop was kept from answering the user while training ran."""

    PERIOD_S = 0.010

    def __init__(self) -> None:
        self.lateness_ms: list[float] = []
        from PySide6.QtCore import QTimer

        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(int(self.PERIOD_S * 1000))
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness_ms.append(max(0.0, now - self._last - self.PERIOD_S) * 1000)
        self._last = now

    def stop(self) -> None:
        self._timer.stop()

    def percentiles(self) -> tuple[float, float]:
        """p50 and p99 in ms, leaving out the first ticks (start-up)."""
        lat = np.array(self.lateness_ms[5:] or [0.0])
        return float(np.percentile(lat, 50)), float(np.percentile(lat, 99))


def app_rate(app, spec, data, seconds: float, threads: int):
    """Samples/s of the in-app path, GUI lateness (p50, p99 ms) and probe cost per kind."""
    from PySide6.QtCore import QTimer

    from gui.training import TrainingController

    ctrl = TrainingController()
    got = {"steps": [], "probes": 0, "done": None}
    ctrl.steps_received.connect(lambda s: got["steps"].extend(s))
    ctrl.probe_updated.connect(lambda p: got.__setitem__("probes", got["probes"] + 1))
    ctrl.run_finished.connect(lambda f: got.__setitem__("done", f))
    lateness = LatenessProbe()
    settings = TrainSettings(device="cpu", batch_size=BATCH, epochs=10_000, torch_threads=threads)
    marks = {}

    def mark(name):
        marks[name] = (time.perf_counter(), len(got["steps"]), training_cpu(pid))

    ctrl.start(spec, data, settings)
    pid = ctrl.process.pid
    QTimer.singleShot(int(WARMUP * 1000), lambda: mark("from"))
    QTimer.singleShot(int((WARMUP + seconds) * 1000), lambda: (mark("to"), app.quit()))
    app.exec()  # the GUI sits in its event loop, as in the app
    (t0, n0, c0), (t1, n1, c1) = marks["from"], marks["to"]
    steps = got["steps"][n0:n1]
    elapsed = t1 - t0
    ctrl.shutdown()
    lateness.stop()
    costs = got["done"].probe_costs  # kind: (seconds per run, seconds between runs)
    step_time = elapsed / max(1, len(steps))
    share = {k: cost / interval for k, (cost, interval) in costs.items()}  # of wall time
    per_step = {k: cost / step_time for k, (cost, _) in costs.items()}  # in training steps
    samples = sum(BATCH for _ in steps)
    return (
        samples / elapsed,
        *lateness.percentiles(),
        share,
        per_step,
        None if c0 is None or c1 is None else (c1 - c0) / elapsed,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both paths")
    parser.add_argument("--repeats", type=int, default=3, help="app runs per model (median)")
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    rows = []
    for label, example, dataset, options in CASES:
        spec = ModelSpec.load(example_path(example))
        data = load_builtin(dataset, **options)
        # Plain and app runs alternate, each app run against the mean of the plain runs around
        # it: the machine is shared, and its speed drifts by 10-20 % between runs.
        plains = [plain_rate(spec, data, args.seconds, args.threads)]
        runs = []
        for _ in range(args.repeats):
            runs.append(app_rate(app, spec, data, args.seconds, args.threads))
            plains.append(plain_rate(spec, data, args.seconds, args.threads))
        rows.append((label, plains, runs))
    print(
        f"\nTraining throughput, {args.threads} torch thread(s), batch {BATCH}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}; {args.repeats} app runs per model "
        f"of {args.seconds:g} s, between plain runs of {args.seconds:g} s\n"
    )
    print(
        "| model | plain samples/s | in-app samples/s | ratio: median (range) "
        "| GUI lateness p50 / p99 ms | training thread busy | probes: share of time (last run) |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    med = statistics.median
    for label, plains, runs in rows:
        ratios = [r[0] / ((a + b) / 2) for r, a, b in zip(runs, plains, plains[1:], strict=False)]
        busy = [r[5] for r in runs if r[5] is not None]
        share = runs[-1][3]
        probes = ", ".join(f"{k} {v:.1%}" for k, v in sorted(share.items())) or "none"
        print(
            f"| {label} | {med(plains):,.0f} | {med(r[0] for r in runs):,.0f} "
            f"| {med(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) "
            f"| {med(r[1] for r in runs):.1f} / {max(r[2] for r in runs):.1f} "
            f"| {f'{med(busy):.1%}' if busy else 'n/a'} "
            f"| {probes} (total {sum(share.values()):.1%}) |"
        )
    print("\nCost of one run of each probe, in training steps (last run):\n")
    for label, _plains, runs in rows:
        per_step = runs[-1][4]
        print(f"- {label}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(per_step.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
