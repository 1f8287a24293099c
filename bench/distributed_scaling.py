"""Samples per second of `main.py train` with one process and with N (DistributedDataParallel,
gloo, through --nproc), on the same model, data and global batch, taking turns.

Three ways to use the same cores: one process on one torch thread, one process on N threads
(torch's own intra-op parallelism), N processes on one thread each (DDP). The rate is the run's
own (training time only, from the summary line), so the processes' start-up does not count. A
scaling model to read the figures with is in README "Training on several processes".

    python -m bench.distributed_scaling [--rounds R] [--epochs E] [--nproc N] [--cases a,b]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from engine.model.examples import example_path

ROOT = Path(__file__).resolve().parent.parent
CASES = {  # example: extra options (the batch is the global one)
    "shapes_cnn": ["--batch-size", "64"],
    "memory_lstm": ["--batch-size", "64"],
}
RATE = re.compile(r"([\d.]+) samples/s")


def rate(case: str, epochs: int, how: list[str]) -> float:
    """Samples per second of one `main.py train` run of ``case`` set up as ``how``."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [sys.executable, "main.py", "train", str(example_path(case)), "--epochs",
             str(epochs), "--device", "cpu", "--quiet", "--run-dir", f"{folder}/run",
             *CASES[case], *how],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
    found = RATE.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{case} {' '.join(how)} failed:\n{done.stdout}\n{done.stderr}")
    return float(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args(argv)
    n = args.nproc
    setups = {
        "1 process × 1 thread": ["--threads", "1"],
        f"1 process × {n} threads": ["--threads", str(n)],
        f"{n} processes × 1 thread (DDP, gloo)": ["--nproc", str(n), "--threads", "1"],
    }
    for case in args.cases.split(","):
        rates: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(args.rounds):  # taking turns, so a busy spell hits every setup alike
            for name, how in setups.items():
                rates[name].append(rate(case, args.epochs, how))
        base = statistics.median(rates["1 process × 1 thread"])
        print(f"{case} (median of {args.rounds}, samples/s; ratio to 1 process × 1 thread)")
        for name, values in rates.items():
            median = statistics.median(values)
            spread = ", ".join(f"{v:.0f}" for v in values)
            print(f"  {name:38s} {median:8.0f}  ×{median / base:.2f}   ({spread})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
