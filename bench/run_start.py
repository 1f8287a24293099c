"""How long Train takes to show the first step: a TrainingProcess started from a fork server
that has imported torch (CPU runs on Linux) against a freshly spawned interpreter (GPU runs,
and every run on macOS and Windows). Time from the call to the first events it relays.

    python -m bench.run_start [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.train_throughput import load_case
from engine.training import process as remote
from engine.training.settings import TrainSettings


def first_events(spec, data, runs: int) -> list[float]:
    """Seconds from starting each run to its first relayed steps."""
    settings = TrainSettings(device="cpu", batch_size=32, epochs=100, torch_threads=1)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        run = remote.TrainingProcess(spec, data, settings)
        while not run.drain().steps:
            time.sleep(0.005)
        seconds.append(time.perf_counter() - start)
        run.request_stop()
        run.wait(10.0)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind")
    args = parser.parse_args(argv)
    spec, data, _ = load_case("digits_cnn", "digits", {})
    remote.warm_up()
    first_events(spec, data, 1)  # the fork server's own start (it imports torch once)
    forked = first_events(spec, data, args.runs)
    spawn = remote.process_context(cpu=False)
    original = remote.process_context
    remote.process_context = lambda cpu=True: spawn  # as a GPU run starts
    try:
        spawned = first_events(spec, data, args.runs)
    finally:
        remote.process_context = original
    print(f"\nFrom Train to the first relayed steps (digits CNN), {args.runs} runs each\n")
    print("| how the training process starts | seconds: median (range) |")
    print("|---|---:|")
    for label, times in (("forked from the warm fork server", forked), ("spawned", spawned)):
        print(f"| {label} | {statistics.median(times):.2f} ({min(times):.2f}–{max(times):.2f}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
