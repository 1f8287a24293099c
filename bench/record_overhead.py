"""What recording a run costs: training with the RunRecorder against training without it, and
the time one checkpoint holds the training loop (its CPU copy) and takes to write (on the
run's writer thread).

1. Recording on / off: the digits CNN (the example model, batch 32, probes off so that only
   the recording is measured) trains ``--epochs`` epochs per run, runs alternating
   OFF ON OFF ON … OFF; each ON run is compared with the mean of the OFF runs on either side,
   so this shared machine's drift cancels out. Ratio = ON throughput / OFF throughput (samples
   per second of training, epoch-end checkpoints included), and the same for the whole run's
   wall time (setup, first and last writes included).
2. Checkpoint: the pytorch/examples MNIST network (1,199,882 parameters) after one Adam step
   (so with its two moment buffers), taken ``--writes`` times with copy_checkpoint (what the
   training thread waits for), written with write_checkpoint (what the writer thread does
   meanwhile), and the best copy made from it (keep_as_best); median and worst milliseconds.

    python -m bench.record_overhead [--rounds N] [--epochs N] [--writes N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from engine.data import load_builtin
from engine.model.examples import example_path
from engine.model.spec import ModelSpec
from engine.runs.checkpoint import Progress, copy_checkpoint, keep_as_best, write_checkpoint
from engine.runs.folder import new_run_folder
from engine.runs.recorder import RunRecorder
from engine.training.settings import TrainSettings
from engine.training.trainer import Trainer


def train_once(spec, data, epochs: int, folder: Path | None) -> tuple[float, float]:
    """(samples per second of training, wall seconds of the whole run)."""
    settings = TrainSettings(epochs=epochs, device="cpu", torch_threads=1, probes=False)
    trainer = Trainer(spec, data, settings)
    if folder is not None:
        trainer.callbacks.append(RunRecorder(new_run_folder(folder, spec.name), trainer))
    started = time.perf_counter()
    result = trainer.run()
    return result.samples_per_second, time.perf_counter() - started


def recording_ratio(rounds: int, epochs: int) -> None:
    spec = ModelSpec.load(example_path("digits_cnn"))
    data = load_builtin("digits")
    with tempfile.TemporaryDirectory() as tmp:
        train_once(spec, data, 1, Path(tmp))  # warm-up: imports, TensorBoard, first allocations
        offs = [train_once(spec, data, epochs, None)]
        rates, walls = [], []
        for _ in range(rounds):
            on = train_once(spec, data, epochs, Path(tmp))
            offs.append(train_once(spec, data, epochs, None))
            before, after = offs[-2], offs[-1]
            rates.append(on[0] / ((before[0] + after[0]) / 2))
            walls.append(((before[1] + after[1]) / 2) / on[1])
    print(f"digits CNN, {epochs} epochs a run, {rounds} ON runs between OFF runs (1 thread)")
    print(f"  training throughput ON/OFF: median {statistics.median(rates):.3f} "
          f"(min {min(rates):.3f}, max {max(rates):.3f})")  # fmt: skip
    print(f"  whole run speed     ON/OFF: median {statistics.median(walls):.3f} "
          f"(min {min(walls):.3f}, max {max(walls):.3f})")  # fmt: skip


class MnistNet(nn.Module):
    """pytorch/examples mnist/main.py's Net."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
        self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        x = self.dropout1(torch.flatten(torch.max_pool2d(x, 2), 1))
        return self.fc2(self.dropout2(torch.relu(self.fc1(x))))


def checkpoint_time(writes: int) -> None:
    model = MnistNet()
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters())
    loss = nn.functional.cross_entropy(model(torch.randn(8, 1, 28, 28)), torch.zeros(8).long())
    loss.backward()
    optimizer.step()
    generator = torch.Generator().manual_seed(0)
    progress = Progress(1, 1, 8, 1e-3, None)
    copy_ms, save_ms, best_ms = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(writes):
            t0 = time.perf_counter()
            taken = copy_checkpoint(model=model, optimizer=optimizer, shuffle_rng=generator,
                                    progress=progress, metrics=None, reason="epoch")  # fmt: skip
            t1 = time.perf_counter()
            write_checkpoint(folder, taken)
            t2 = time.perf_counter()
            keep_as_best(folder)
            best_ms.append((time.perf_counter() - t2) * 1e3)
            copy_ms.append((t1 - t0) * 1e3)
            save_ms.append((t2 - t1) * 1e3)
        size = (folder / "checkpoints" / "last.safetensors").stat().st_size
    print(f"MNIST net, {params:,} parameters + Adam state ({size / 1e6:.1f} MB), {writes} writes"
          f" ({torch.get_num_threads()} thread)")  # fmt: skip
    print(f"  copy (holds the training loop): median {statistics.median(copy_ms):.1f} ms, "
          f"worst {max(copy_ms):.1f} ms")  # fmt: skip
    print(f"  write (writer thread): median {statistics.median(save_ms):.1f} ms, worst "
          f"{max(save_ms):.1f} ms; best copy: median {statistics.median(best_ms):.2f} ms")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--writes", type=int, default=20)
    args = parser.parse_args(argv)
    # One torch thread, as the training runs below: a copy spread over two threads of a busy
    # 2-core machine waits for the slower one (measured 8 ms for the MNIST weights, 1 thread 2).
    torch.set_num_threads(1)
    checkpoint_time(args.writes)
    recording_ratio(args.rounds, args.epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
