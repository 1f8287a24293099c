"""Why the Trainer asks torch for its fused optimiser kernels: the plain loop with torch's
default Adam (a Python loop over the tensors, on the CPU) against the fused kernel, on every
example of bench.train_throughput.

Both take turns in windows (D F D F ... D) in one process, each fused window against the
default windows on either side. Both loops store a conv net's weights channels-last, as the
Trainer does, so only the optimiser's kernel differs.

    python -m bench.fused_optimizer [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse

import torch

from bench.train_throughput import CASES, PlainLoop, load_case, speed_up_row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=3, help="fused windows per model")
    args = parser.parse_args(argv)
    print(f"\nPlain loop, 1 torch thread, batch 32, torch {torch.__version__}: Adam's fused "
          f"kernel against torch's default, {args.rounds} windows of {args.seconds:g} s each\n")  # fmt: skip
    print("| model | default Adam samples/s | fused Adam samples/s | speed-up: median (range) |")
    print("|---|---:|---:|---:|")
    for label, example, dataset, options in CASES:
        spec, data, options = load_case(example, dataset, options)
        label = label.replace("T=160", f"T={options.get('seq_len', 160)}")
        default = PlainLoop(spec, data, threads=1, fused=False)
        fused = PlainLoop(spec, data, threads=1, fused=True)
        print(speed_up_row(label, default, fused, args.rounds, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
