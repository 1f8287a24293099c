"""Why training runs in a process of its own: a plain training loop (digits CNN, 1 torch
thread) beside a GUI-like load that runs pure Python for a share of the time, once in a thread
of the same process and once in another process.

The load runs Python for ``--busy`` of every 100 ms (6 %, about what the GUI thread spends with
all nine views painting at the old 3 % paint budget, panel and event delivery included). In a
thread it holds the GIL that the training loop also needs; in a process it has a GIL of its
own. Each loaded window is compared with the mean of the unloaded windows on either side.

    python -m bench.gil_contention [--seconds S] [--rounds N] [--busy F]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import threading
import time

import torch

from bench.train_throughput import PlainLoop, load_case, ratios_between

PERIOD = 0.1


def python_load(busy: float, stop) -> None:
    """Pure Python for ``busy`` of every PERIOD seconds until ``stop`` is set."""
    while not stop.is_set():
        start = time.perf_counter()
        while time.perf_counter() - start < busy * PERIOD:
            sum(range(200))
        time.sleep(max(0.0, PERIOD - (time.perf_counter() - start)))


def loaded_rate(loop: PlainLoop, seconds: float, busy: float, where: str) -> float:
    if where == "thread":
        stop = threading.Event()
        load = threading.Thread(target=python_load, args=(busy, stop))
    else:
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        load = ctx.Process(target=python_load, args=(busy, stop))
    load.start()
    time.sleep(0.3 if where == "thread" else 1.5)  # a spawned interpreter takes a moment
    try:
        return loop.run(seconds)
    finally:
        stop.set()
        load.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=3, help="loaded windows of each kind")
    parser.add_argument("--busy", type=float, default=0.06, help="share of time the load runs")
    args = parser.parse_args(argv)
    spec, data, _ = load_case("digits_cnn", "digits", {})
    loop = PlainLoop(spec, data, threads=1)
    print(f"\nPlain training loop (digits CNN, 1 torch thread, torch {torch.__version__}) beside "
          f"pure Python running {args.busy:.0%} of the time; {args.rounds} windows of "
          f"{args.seconds:g} s per case\n")  # fmt: skip
    print("| the Python load runs in | samples/s | against no load: median (range) |")
    print("|---|---:|---:|")
    for where in ("thread", "process"):
        alone = [loop.run(args.seconds)]
        loaded = []
        for _ in range(args.rounds):
            loaded.append(loaded_rate(loop, args.seconds, args.busy, where))
            alone.append(loop.run(args.seconds))
        ratios = ratios_between(loaded, alone)
        med = statistics.median
        print("| a thread of the training process |" if where == "thread" else "| another process |",
              f"{med(loaded):,.0f} | {med(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
