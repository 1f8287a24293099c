"""In-app training against a plain PyTorch loop: same model, data, batch size and threads.

In-app = Trainer + probes at their default rates in the training process, its events relayed
to the GUI process and re-emitted by the TrainingController, with an offscreen QApplication
whose slots receive every signal, plus a 10 ms QTimer that measures how late the GUI event loop
runs. Plain = the shortest honest loop: shuffled batches, forward, cross-entropy, backward, Adam
step, one loss.item() per step; its Adam runs the Trainer's fused kernel, so the ratio is
LayerLab's own cost (``--default-adam``: torch's default Adam, as a user's script has it).

The two take turns in short windows, P A P A ... P: the in-app run is paused while the plain
loop runs, and the plain loop waits while the in-app run trains. Each in-app window is compared
with the mean of the plain windows on either side, so that the speed of this shared machine,
which drifts by 10-20 % over tens of seconds, cancels out of each ratio. Both stay warm
between their windows.

    python -m bench.train_throughput [--seconds S] [--rounds N] [--threads N] [--models W,...]
        [--no-record] [--no-probes] [--default-adam]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.data import load_builtin  # noqa: E402
from engine.model.examples import example_path  # noqa: E402
from engine.model.spec import ModelSpec  # noqa: E402
from engine.nn.build import build_model  # noqa: E402
from engine.training.settings import TrainSettings  # noqa: E402

CASES = (  # (label, example, dataset, options)
    ("digits CNN 8×8", "digits_cnn", "digits", {}),
    ("shapes CNN 28×28", "shapes_cnn", "shapes", {"n_samples": 1500}),
    ("LSTM first_symbol T=160", "memory_lstm", "first_symbol", {"seq_len": 160, "n_samples": 1500}),
    # The shortest steps (~0.5 ms) and epochs (800 samples: ~15 ms) of the examples: what a
    # step's and an epoch's bookkeeping cost shows here first. In the dashboard bench its Train
    # grid holds the Decision regions, the dearest view to paint.
    ("moons MLP", "moons_mlp", "moons", {}),
)
BATCH = 32
WARMUP = 1.0
SETTLE = 1.0  # seconds after a resume before an in-app window starts (events lag ~0.1-0.2 s)


class PlainLoop:
    """The plain PyTorch loop; ``run(seconds)`` goes on where the last window stopped.

    A conv net's weights are channels-last, and Adam runs torch's fused kernel, as the
    Trainer does on the CPU, so that the ratio measures LayerLab's own cost, not the memory
    format or the optimiser's kernel (bench/channels_last.py and bench/fused_optimizer.py
    measure those against torch's defaults)."""

    def __init__(
        self, spec, data, threads: int, channels_last: bool = True, fused: bool = True
    ) -> None:
        from engine.training.optim import kernel_options

        torch.set_num_threads(threads)
        self.model = build_model(spec, seed=0)
        if channels_last and any(isinstance(m, torch.nn.Conv2d) for m in self.model.modules()):
            self.model = self.model.to(memory_format=torch.channels_last)
        params = list(self.model.parameters())
        kernels = kernel_options("adam", params) if fused else {}
        self.opt = torch.optim.Adam(params, lr=3e-3, **kernels)
        self.x, self.y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
        self.xv, self.yv = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
        self.gen = torch.Generator().manual_seed(0)
        self.batches = iter(())
        self.run(WARMUP)

    def run(self, seconds: float) -> float:
        """Samples/s over about ``seconds``."""
        samples, start = 0, time.perf_counter()
        while True:
            idx = next(self.batches, None)
            if idx is None:
                self._validate()
                order = torch.randperm(len(self.x), generator=self.gen)
                self.batches = iter(order.split(BATCH))
                continue
            loss = torch.nn.functional.cross_entropy(self.model(self.x[idx]), self.y[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            loss.item()
            samples += len(idx)
            now = time.perf_counter()
            if now - start >= seconds:
                return samples / (now - start)

    def _validate(self) -> None:
        with torch.no_grad():
            self.model.eval()
            (self.model(self.xv).argmax(1) == self.yv).float().mean().item()
            self.model.train()


class PlainProcess:
    """A PlainLoop in a process of its own, started like the app's training process: both
    loops then run in a fresh process beside an idle GUI, as a user's own script would.
    (In the GUI process itself, whose heap Qt and the data have fragmented, the LSTM's many
    small allocations ran up to ~20 % slower than in a fresh process.)"""

    def __init__(self, spec, data, threads: int, fused: bool = True) -> None:
        from engine.training.process import process_context

        ctx = process_context()
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_plain, args=(spec, data, threads, child, fused))
        self._process.start()
        child.close()
        self._conn.recv()  # warmed up

    def run(self, seconds: float) -> float:
        self._conn.send(seconds)
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send(None)
        self._process.join(10.0)


def _serve_plain(spec, data, threads: int, conn, fused: bool = True) -> None:
    loop = PlainLoop(spec, data, threads, fused=fused)
    conn.send("ready")
    while (seconds := conn.recv()) is not None:
        conn.send(loop.run(seconds))


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
    """A 10 ms QTimer on the GUI thread that records how late each tick fires while it runs:
    how long the event loop was kept from answering the user while training ran."""

    PERIOD_S = 0.010

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.lateness_ms: list[float] = []
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setInterval(int(self.PERIOD_S * 1000))
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness_ms.append(max(0.0, now - self._last - self.PERIOD_S) * 1000)
        self._last = now

    def stop(self) -> None:
        self._timer.stop()

    def percentiles(self) -> tuple[float, float]:
        """p50 and p99 in ms."""
        lat = np.array(self.lateness_ms or [0.0])
        return float(np.percentile(lat, 50)), float(np.percentile(lat, 99))


def ratios_between(measured: Sequence[float], around: Sequence[float]) -> list[float]:
    """Each of ``measured`` against the mean of the two ``around`` values on either side of it
    (``around`` has one more value: they alternate, around first and last)."""
    return [m / ((a + b) / 2) for m, a, b in zip(measured, around, around[1:], strict=False)]


def speed_up_row(label: str, base: PlainLoop, other: PlainLoop, rounds: int, seconds: float) -> str:
    """``other`` against ``base`` in turns, B O B ... B, each ``other`` window against the
    ``base`` windows on either side: a table row of both rates and the speed-up."""
    plain = [base.run(seconds)]
    fast = []
    for _ in range(rounds):
        fast.append(other.run(seconds))
        plain.append(base.run(seconds))
    ups = ratios_between(fast, plain)
    med = statistics.median
    return (
        f"| {label} | {med(plain):,.0f} | {med(fast):,.0f} "
        f"| {med(ups):.2f}× ({min(ups):.2f}–{max(ups):.2f}) |"
    )


def run_events(seconds: float) -> None:
    """Let the GUI event loop run for ``seconds`` (as the app does while it trains)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()  # not app.exec(): quitting the app would stop the run (aboutToQuit)
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


@dataclass
class Turns:
    """What ``take_turns`` measured: per in-app window its samples/s, the plain windows'
    samples/s (one more than the in-app ones), and per in-app window the growth of each of
    the caller's counters per second of that window."""

    app: list[float]
    plain: list[float]
    counters: list[list[float | None]]
    lateness: LatenessProbe

    @property
    def ratios(self) -> list[float]:
        return ratios_between(self.app, self.plain)


def take_turns(
    ctrl,
    plain: PlainProcess,
    rounds: int,
    seconds: float,
    counters: Callable[[], Sequence[float | None]] = tuple,
) -> Turns:
    """P A P A ... P with a running in-app run on ``ctrl``: pause it for each plain window."""
    steps: list = []
    ctrl.steps_received.connect(steps.extend)
    turns = Turns([], [], [], LatenessProbe())
    for _ in range(rounds):
        ctrl.pause()
        run_events(0.2)  # the pause lands between two steps; its last events arrive
        turns.plain.append(plain.run(seconds))
        ctrl.resume()
        run_events(SETTLE)
        turns.lateness.start()
        n0, t0, c0 = len(steps), time.perf_counter(), counters()
        run_events(seconds)
        n1, t1, c1 = len(steps), time.perf_counter(), counters()
        turns.lateness.stop()
        turns.app.append((n1 - n0) * BATCH / (t1 - t0))
        turns.counters.append(
            [
                None if a is None or b is None else (b - a) / (t1 - t0)
                for a, b in zip(c0, c1, strict=True)
            ]
        )
    ctrl.pause()
    run_events(0.2)
    turns.plain.append(plain.run(seconds))
    ctrl.steps_received.disconnect(steps.extend)
    return turns


def load_case(example: str, dataset: str, options: dict):
    """The example's spec and its data; the example's own options win (memory_lstm moved to
    120 steps): the Trainer refuses a dataset whose shape does not fit the Input block."""
    spec = ModelSpec.load(example_path(example))
    if spec.dataset == dataset:
        options = {**options, **spec.dataset_options}
    return spec, load_builtin(dataset, **options), options


def app_turns(
    spec, data, rounds: int, seconds: float, threads: int, fused: bool = True,
    **settings_overrides,
):  # fmt: skip
    """The controller-only in-app path against the plain loop; and each probe's cost.
    ``fused``: False for a plain loop with torch's default Adam, as a user's script has it.
    ``settings_overrides``: TrainSettings fields (record=False, probes=False) that take a part
    out, to see what it costs."""
    from gui.training import TrainingController

    ctrl = TrainingController()
    finished = []
    ctrl.run_finished.connect(finished.append)
    plain = PlainProcess(spec, data, threads, fused=fused)
    settings = TrainSettings(device="cpu", batch_size=BATCH, epochs=10_000, torch_threads=threads,
                             **settings_overrides)  # fmt: skip
    ctrl.start(spec, data, settings)
    run_events(WARMUP)
    pid = ctrl.process.pid
    turns = take_turns(ctrl, plain, rounds, seconds, lambda: (training_cpu(pid),))
    ctrl.shutdown()
    plain.close()
    return turns, finished[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per window")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both paths")
    parser.add_argument("--rounds", type=int, default=5, help="in-app windows per model")
    parser.add_argument("--models", default="", help="comma-separated words picking models by "
                        "label (e.g. digits,LSTM)")  # fmt: skip
    parser.add_argument("--no-record", action="store_true", help="in-app runs write no run folder")
    parser.add_argument("--no-probes", action="store_true", help="in-app runs run no probes")
    parser.add_argument("--default-adam", action="store_true", help="the plain loop uses "
                        "torch's default Adam, as a user's script does, not the Trainer's fused "
                        "kernel: LayerLab against that script rather than LayerLab's own cost")  # fmt: skip
    args = parser.parse_args(argv)
    overrides = {"record": False} if args.no_record else {}
    overrides |= {"probes": False} if args.no_probes else {}
    picks = [w.lower() for w in args.models.split(",") if w]
    from PySide6.QtWidgets import QApplication

    from gui.app import paint_on_the_gui_thread_only

    paint_on_the_gui_thread_only()  # as the app does
    QApplication.instance() or QApplication([])
    rows = []
    for label, example, dataset, options in CASES:
        if picks and not any(w in label.lower() for w in picks):
            continue
        spec, data, options = load_case(example, dataset, options)
        label = label.replace("T=160", f"T={options.get('seq_len', 160)}")
        turns = app_turns(
            spec, data, args.rounds, args.seconds, args.threads, not args.default_adam,
            **overrides,
        )  # fmt: skip
        rows.append((label, *turns))
    print(
        f"\nTraining throughput, {args.threads} torch thread(s), batch {BATCH}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}; {args.rounds} in-app windows of "
        f"{args.seconds:g} s per model, each between two plain windows of {args.seconds:g} s"
        f"{'; no recording' if args.no_record else ''}{'; no probes' if args.no_probes else ''}"
        f"{'; plain loop with torch default Adam' if args.default_adam else ''}\n"
    )
    print(
        "| model | plain samples/s | in-app samples/s | ratio: median (range) "
        "| GUI lateness p50 / p99 ms | training thread busy | probes: share of time |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    med = statistics.median
    for label, turns, finished in rows:
        ratios = turns.ratios
        busy = [c[0] for c in turns.counters if c[0] is not None]
        share = {k: cost / interval for k, (cost, interval) in finished.probe_costs.items()}
        probes = ", ".join(f"{k} {v:.1%}" for k, v in sorted(share.items())) or "none"
        p50, p99 = turns.lateness.percentiles()
        print(
            f"| {label} | {med(turns.plain):,.0f} | {med(turns.app):,.0f} "
            f"| {med(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) "
            f"| {p50:.1f} / {p99:.1f} | {f'{med(busy):.1%}' if busy else 'n/a'} "
            f"| {probes} (total {sum(share.values()):.1%}) |"
        )
    print("\nCost of one run of each probe, in training steps:\n")
    for label, turns, finished in rows:
        step_time = BATCH / med(turns.app)
        costs = finished.probe_costs
        print(f"- {label}: " + ", ".join(f"{k} {c / step_time:.2f}" for k, (c, _) in sorted(costs.items())))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
