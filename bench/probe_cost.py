"""What each probe costs, as a share of one training step, on one torch thread.

Run: python -m bench.probe_cost   (about 15 s). Prints a table; not a test. The trainer runs
probes at a rate bounded by time, so a probe at 50 % of a step taken twice a second costs
little, while the same probe every step would halve training speed. Each table ends with the
share of training time all probes take at their default intervals (cost / interval, summed),
with and without the cards' block_outputs probe; the last column is each probe's own share at
its default interval (the target: 2 % or less each).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch import nn

from engine import probes
from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.nn.build import build_model
from engine.nn.modules import LSTMBlock
from engine.probes.registry import DEFAULT_INTERVALS

BATCH = 64


def median_ms(fn: Callable[[], object], budget_s: float = 0.4, max_runs: int = 200) -> float:
    """Median wall time of `fn` in ms, after a warm-up call, within about `budget_s`."""
    fn()
    times: list[float] = []
    end = time.perf_counter() + budget_s
    while len(times) < 5 or (time.perf_counter() < end and len(times) < max_runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def digits_cnn() -> nn.Sequential:
    """The digits CNN example exactly as the app builds it."""
    return build_model(ModelSpec.load(example_path("digits_cnn")), seed=0)


def moons_mlp() -> nn.Sequential:
    """The two-moons MLP example exactly as the app builds it (2 inputs, 2 classes)."""
    return build_model(ModelSpec.load(example_path("moons_mlp")), seed=0)


def lstm_forecaster() -> nn.Sequential:
    return nn.Sequential(OrderedDict(lstm1=LSTMBlock(1, 64), dense2=nn.Linear(64, 1)))


def train_step_fn(model, loss_fn, x, y) -> Callable[[], None]:
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimiser.step()

    return step


# A table row: what was timed, the probe kind it is (None: the training step), median ms.
Row = tuple[str, str | None, float]


def every_model_rows(model: nn.Module, x: torch.Tensor) -> list[Row]:
    """The probes that apply to every model: gradients and histograms."""
    return [
        (
            "layer_gradient_norms",
            "layer_gradients",
            median_ms(lambda: probes.layer_gradient_norms(model)),
        ),
        (
            "weight_histograms",
            "weight_histograms",
            median_ms(lambda: probes.weight_histograms(model)),
        ),
        (
            f"activation_histograms ({BATCH})",
            "activation_histograms",
            median_ms(lambda: probes.activation_histograms(model, x)),
        ),
    ]


def cnn_rows() -> list[Row]:
    model = digits_cnn()
    x, y = torch.randn(BATCH, 1, 8, 8), torch.randint(0, 10, (BATCH,))
    x_val, y_val = torch.randn(512, 1, 8, 8), torch.randint(0, 10, (512,))
    step = train_step_fn(model, nn.CrossEntropyLoss(), x, y)
    return [
        ("training step (fwd+bwd+Adam)", None, median_ms(step)),
        *every_model_rows(model, x),
        ("conv_filters", "filters", median_ms(lambda: probes.conv_filters(model))),
        (
            "feature_maps (1 image)",
            "feature_maps",
            median_ms(lambda: probes.feature_maps(model, x[:1])),
        ),
        (
            "block_outputs (1 image)",
            "block_outputs",
            median_ms(lambda: probes.block_outputs(model, x[:1])),
        ),
        (
            "classification_report (512)",
            "classification_report",
            median_ms(lambda: probes.classification_report(model, x_val, y_val, 10)),
        ),
        (
            "saliency_map (1 image)",
            "saliency",
            median_ms(lambda: probes.saliency_map(model, x[:1], y[:1])),
        ),
    ]


def mlp_rows() -> list[Row]:
    model = moons_mlp()
    x, y = torch.randn(BATCH, 2), torch.randint(0, 2, (BATCH,))
    x_val, y_val = torch.randn(512, 2), torch.randint(0, 2, (512,))
    step = train_step_fn(model, nn.CrossEntropyLoss(), x, y)
    return [
        ("training step (fwd+bwd+Adam)", None, median_ms(step)),
        *every_model_rows(model, x),
        (
            "decision_regions (100x100)",
            "decision_regions",
            median_ms(lambda: probes.decision_regions(model, x_val, y_val, 2)),
        ),
        (
            "classification_report (512)",
            "classification_report",
            median_ms(lambda: probes.classification_report(model, x_val, y_val, 2)),
        ),
    ]


def lstm_rows() -> list[Row]:
    model = lstm_forecaster()
    x, y = torch.randn(BATCH, 50, 1), torch.randn(BATCH, 1)
    x_val, y_val = torch.randn(512, 50, 1), torch.randn(512, 1)
    step = train_step_fn(model, nn.MSELoss(), x, y)
    seq = x[:1]
    return [
        ("training step (fwd+bwd+Adam)", None, median_ms(step)),
        *every_model_rows(model, x),
        (
            "recurrent_trace numpy",
            "gates",
            median_ms(lambda: probes.recurrent_trace(model, "lstm1", seq)),
        ),
        (
            "recurrent_trace torch",
            None,  # the other backend of the same probe: timed, not counted twice
            median_ms(lambda: probes.recurrent_trace(model, "lstm1", seq, backend="torch")),
        ),
        (
            "recurrent_gradient_flow",
            "time_gradients",
            median_ms(
                lambda: probes.recurrent_gradient_flow(model, "lstm1", seq, nn.MSELoss(), y[:1])
            ),
        ),
        (
            "block_outputs (1 sequence)",
            "block_outputs",
            median_ms(lambda: probes.block_outputs(model, seq)),
        ),
        (
            "forecast_report (512)",
            "forecast_report",
            median_ms(lambda: probes.forecast_report(model, x_val, y_val)),
        ),
    ]


def time_share(rows: list[Row], leave_out: tuple[str, ...] = ()) -> float:
    """Share of wall time the probes take when each runs once per default interval."""
    return sum(
        ms / 1e3 / DEFAULT_INTERVALS[kind]
        for _name, kind, ms in rows
        if kind is not None and kind not in leave_out
    )


def print_table(title: str, rows: list[Row]) -> None:
    step_ms = rows[0][2]
    print(f"\n{title}")
    print(f"{'':32}{'median ms':>11}{'x step':>9}{'% of time':>11}")
    for name, kind, ms in rows:
        share = f"{ms / 1e3 / DEFAULT_INTERVALS[kind]:11.2%}" if kind is not None else ""
        print(f"{name:32}{ms:11.3f}{ms / step_ms:9.2f}{share}")
    before = time_share(rows, leave_out=("block_outputs",))
    print(
        f"probes at their default intervals: {time_share(rows):.2%} of training time "
        f"({before:.2%} without block_outputs)"
    )


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, 1 thread, batch {BATCH}")
    print_table("digits CNN (resources/examples/digits_cnn.json)", cnn_rows())
    print_table("moons MLP (resources/examples/moons_mlp.json)", mlp_rows())
    print_table("LSTM forecaster (T=50, F=1, hidden 64 -> dense1)", lstm_rows())


if __name__ == "__main__":
    main()
