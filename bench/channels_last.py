"""Why the Trainer makes a conv net's weights channels-last on the CPU: the plain loop, NCHW
against channels-last, on the CNN examples and a 3-channel 32×32 net.

Both take turns in windows (N C N C ... N) in one process, each channels-last window against
the NCHW windows on either side. The data are C-ordered arrays, as a file loader or pickling
gives them.

    python -m bench.channels_last [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from bench.train_throughput import CASES, PlainLoop, load_case, speed_up_row
from engine.data import Dataset
from engine.model.spec import InputSpec, ModelSpec


def colour_net() -> tuple[ModelSpec, Dataset]:
    """A small 3-channel 32×32 CNN on random data (speed only: nothing to learn)."""
    spec = ModelSpec(input=InputSpec("image", (3, 32, 32)), name="colour CNN")
    for type_id, params in (
        ("conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
        ("relu", {}),
        ("maxpool2d", {"kernel_size": 2, "stride": 2}),
        ("conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}),
        ("relu", {}),
        ("maxpool2d", {"kernel_size": 2, "stride": 2}),
        ("flatten", {}),
        ("dense", {"units": 10}),
    ):
        spec = spec.insert(len(spec.blocks), spec.new_block(type_id, params))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=1200)
    data = Dataset(
        "random colour", "classification", x[:1000], y[:1000], x[1000:], y[1000:],
        "image", (3, 32, 32), tuple(str(k) for k in range(10)),
    )  # fmt: skip
    return spec, data


def c_ordered(data: Dataset) -> Dataset:
    """The same data with canonical C strides (slicing can leave a size-1 channel axis with
    a stride that makes PyTorch pick channels-last by accident)."""
    from dataclasses import replace

    return replace(data, **{k: getattr(data, k).copy() for k in ("x_train", "x_val")})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=3, help="channels-last windows per model")
    args = parser.parse_args(argv)
    models = [(label, *load_case(ex, ds, opts)[:2]) for label, ex, ds, opts in CASES[:2]]
    models.append(("colour CNN 3×32×32", *colour_net()))
    print(f"\nPlain loop, 1 torch thread, torch {torch.__version__}: channels-last weights "
          f"against NCHW, {args.rounds} windows of {args.seconds:g} s each\n")  # fmt: skip
    print("| model | NCHW samples/s | channels-last samples/s | speed-up: median (range) |")
    print("|---|---:|---:|---:|")
    for label, spec, data in models:
        data = c_ordered(data)
        nchw = PlainLoop(spec, data, threads=1, channels_last=False)
        last = PlainLoop(spec, data, threads=1, channels_last=True)
        print(speed_up_row(label, nchw, last, args.rounds, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
