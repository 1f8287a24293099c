"""What each probe costs, as a share of one training step, on one torch thread.

Run: python -m bench.probe_cost   (about 15 s). Prints a table; not a test. The trainer runs
probes at a rate bounded by time, so a probe at 50 % of a step taken twice a second costs
little, while the same probe every step would halve training speed.
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


def lstm_forecaster() -> nn.Sequential:
    return nn.Sequential(OrderedDict(lstm1=LSTMBlock(1, 64), dense2=nn.Linear(64, 1)))


def train_step_fn(model, loss_fn, x, y) -> Callable[[], None]:
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimiser.step()

    return step


def cnn_rows() -> list[tuple[str, float]]:
    model = digits_cnn()
    x, y = torch.randn(BATCH, 1, 8, 8), torch.randint(0, 10, (BATCH,))
    x_val, y_val = torch.randn(512, 1, 8, 8), torch.randint(0, 10, (512,))
    step = train_step_fn(model, nn.CrossEntropyLoss(), x, y)
    return [
        ("training step (fwd+bwd+Adam)", median_ms(step)),
        ("layer_gradient_norms", median_ms(lambda: probes.layer_gradient_norms(model))),
        ("conv_filters", median_ms(lambda: probes.conv_filters(model))),
        ("feature_maps (1 image)", median_ms(lambda: probes.feature_maps(model, x[:1]))),
        ("weight_histograms", median_ms(lambda: probes.weight_histograms(model))),
        (
            f"activation_histograms ({BATCH})",
            median_ms(lambda: probes.activation_histograms(model, x)),
        ),
        (
            "classification_report (512)",
            median_ms(lambda: probes.classification_report(model, x_val, y_val, 10)),
        ),
    ]


def lstm_rows() -> list[tuple[str, float]]:
    model = lstm_forecaster()
    x, y = torch.randn(BATCH, 50, 1), torch.randn(BATCH, 1)
    x_val, y_val = torch.randn(512, 50, 1), torch.randn(512, 1)
    step = train_step_fn(model, nn.MSELoss(), x, y)
    seq = x[:1]
    return [
        ("training step (fwd+bwd+Adam)", median_ms(step)),
        ("recurrent_trace numpy", median_ms(lambda: probes.recurrent_trace(model, "lstm1", seq))),
        (
            "recurrent_trace torch",
            median_ms(lambda: probes.recurrent_trace(model, "lstm1", seq, backend="torch")),
        ),
        (
            "recurrent_gradient_flow",
            median_ms(
                lambda: probes.recurrent_gradient_flow(model, "lstm1", seq, nn.MSELoss(), y[:1])
            ),
        ),
        ("layer_gradient_norms", median_ms(lambda: probes.layer_gradient_norms(model))),
        ("weight_histograms", median_ms(lambda: probes.weight_histograms(model))),
        (
            f"activation_histograms ({BATCH})",
            median_ms(lambda: probes.activation_histograms(model, x)),
        ),
        (
            "forecast_report (512)",
            median_ms(lambda: probes.forecast_report(model, x_val, y_val)),
        ),
    ]


def print_table(title: str, rows: list[tuple[str, float]]) -> None:
    step_ms = rows[0][1]
    print(f"\n{title}")
    print(f"{'':32}{'median ms':>11}{'x step':>9}")
    for name, ms in rows:
        print(f"{name:32}{ms:11.3f}{ms / step_ms:9.2f}")


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, 1 thread, batch {BATCH}")
    print_table("digits CNN (resources/examples/digits_cnn.json)", cnn_rows())
    print_table("LSTM forecaster (T=50, F=1, hidden 64 -> dense1)", lstm_rows())


if __name__ == "__main__":
    main()
