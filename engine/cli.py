"""Headless training: ``python main.py train MODEL_FILE [options]``.

Prints a one-line progress bar on a terminal and plain lines per epoch otherwise, a summary at
the end, and exits 0. Any bad argument or file is one line ``layerlab: <reason>`` on stderr and
a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from engine.training.events import Callback, EpochMetrics, Failed, Finished, RunStarted, StepMetrics
from engine.training.settings import (
    CLI_TORCH_THREADS,
    DEFAULT_LR,
    LR_SCHEDULES,
    OPTIMIZER_TITLES,
    OPTIMIZERS,
    TrainSettings,
)

EXIT_BAD_INPUT = 2  # anything wrong found before the first step (README: Command line)
EXIT_TRAINING_FAILED = 1  # a run that started and then failed
MAX_SEED = 2**32 - 1  # what every random generator the run seeds (torch, numpy) accepts


class _UsageError(Exception):
    """A bad command line, reported as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit(2); we want one line
        raise _UsageError(message)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text[:40]!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to {MAX_SEED:,}, not {text[:40]}"
        )
    return value


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python main.py train", description="Train a LayerLab model without a window.")
    p.add_argument("model", metavar="MODEL_FILE", help="a LayerLab model file (.json)")
    p.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        help="a built-in dataset id or a data file/folder (default: the model file's dataset, "
        "a relative path read from the model file's folder)",
    )
    defaults = TrainSettings()
    p.add_argument("--epochs", type=int, default=defaults.epochs, metavar="N")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda:N or mps (default auto)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, metavar="B")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        metavar="LR",
        help="learning rate (default: "
        + ", ".join(f"{OPTIMIZER_TITLES[n]} {DEFAULT_LR[n]:g}" for n in OPTIMIZERS)
        + ")",
    )
    p.add_argument("--optimizer", default=defaults.optimizer, choices=OPTIMIZERS)
    p.add_argument("--momentum", type=float, default=defaults.momentum)
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--grad-clip", type=float, default=defaults.grad_clip, metavar="MAX_NORM")
    p.add_argument("--lr-schedule", default=defaults.lr_schedule, choices=LR_SCHEDULES)
    p.add_argument("--seed", type=_seed, default=defaults.seed)
    p.add_argument(
        "--threads",
        type=int,
        default=CLI_TORCH_THREADS,
        help="torch threads (default: torch's own, one per core)",
    )
    p.add_argument(
        "--export",
        action="append",
        default=[],
        metavar="OUT",
        help="write the trained model here; repeatable; format from the extension "
        "(.safetensors, .pt, .onnx, .torchscript, .py, .json)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    return p


class ProgressPrinter(Callback):
    """A \\r progress bar on a terminal; one line per epoch otherwise."""

    def __init__(self, out: TextIO, *, tty: bool, quiet: bool = False) -> None:
        self.out, self.tty, self.quiet = out, tty, quiet
        self.total = 1
        self.last_draw = 0.0

    def on_run_start(self, event: RunStarted) -> None:
        self.total = max(1, event.total_epochs * event.steps_per_epoch)
        self._line(
            f"Training '{event.model_name}' on '{event.dataset_name}' ({event.device}), "
            f"{event.total_epochs} epochs × {event.steps_per_epoch} steps"
        )

    def on_step_end(self, event: StepMetrics) -> None:
        now = time.perf_counter()
        if self.quiet or not self.tty or (now - self.last_draw < 0.1 and event.step < self.total):
            return
        self.last_draw = now
        done = event.step / self.total
        bar = "#" * int(done * 30)
        eta = f"{event.eta_seconds:4.0f}s" if event.eta_seconds is not None else "   ?"
        self.out.write(
            f"\r[{bar:<30}] {done:4.0%} epoch {event.epoch} loss {event.loss:.4f} "
            f"{event.samples_per_second:7.0f} samples/s ETA {eta}"
        )
        self.out.flush()

    def on_epoch_end(self, event: EpochMetrics) -> None:
        metric = (
            f"val acc {event.val_accuracy:.4f}"
            if event.val_accuracy is not None
            else f"val MAE {event.val_mae:.4g}"
            if event.val_mae is not None
            else ""
        )
        self._line(
            f"epoch {event.epoch}: train loss {event.train_loss:.4f}  "
            f"val loss {event.val_loss:.4f}  {metric}  ({event.seconds:.1f}s)"
        )

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        self.out.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.out.flush()


def summary(result: Finished) -> str:
    final = result.final
    parts = [f"done: {result.epochs_done} epoch{'s' * (result.epochs_done != 1)}"]
    if final is not None:
        parts.append(f"val loss {final.val_loss:.4f}")
        if final.val_accuracy is not None:
            parts.append(f"val accuracy {final.val_accuracy:.2%}")
        if final.val_mae is not None:
            parts.append(f"val MAE {final.val_mae:.4g}")
    parts += [f"{result.seconds:.1f}s", f"{result.samples_per_second:.0f} samples/s"]
    return ", ".join(parts) + (" (stopped early)" if result.stopped_early else "")


def train_main(
    argv: list[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run headless training from command-line arguments; returns the process exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        return _train(argv, out, err)
    except _UsageError as exc:
        err.write(f"layerlab: {exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        err.write("\nlayerlab: interrupted\n")
        return 130


def _train(argv: list[str], out: TextIO, err: TextIO) -> int:
    from engine.data.session import DataSource
    from engine.model.inference import infer
    from engine.model.spec import ModelSpec, SpecError
    from engine.training.settings import SettingsError

    args = make_parser().parse_args(argv)
    path = Path(args.model)
    if path.is_dir():
        raise _UsageError(f"'{path}' is a folder, not a model file; give the path of a .json model")
    if not path.exists():
        raise _UsageError(f"the model file '{path}' does not exist")
    try:
        spec = ModelSpec.load(path)  # its message names the file
    except SpecError as exc:
        raise _UsageError(str(exc)) from None
    problem = infer(spec).problem  # no torch yet: a model that cannot be built stops here
    if problem:
        raise _UsageError(f"'{path.name}' cannot be trained: {problem}")
    # A relative path in the model file is read next to it; one on the command line, from here.
    source = DataSource.for_model(spec, path, name=args.dataset)
    if source is None:
        raise _UsageError(f"'{path.name}' names no dataset; pass --dataset NAME_OR_PATH")
    exports = [Path(p) for p in args.export]
    _check_exports(exports)

    import torch  # after the cheap checks: a typo should not wait 2 s for torch

    from engine.training.settings import TrainSettings
    from engine.training.trainer import Trainer

    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    try:
        settings = TrainSettings(
            optimizer=args.optimizer,
            lr=lr,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            batch_size=args.batch_size,
            epochs=args.epochs,
            grad_clip=args.grad_clip,
            lr_schedule=args.lr_schedule,
            device=args.device,
            seed=args.seed,
            torch_threads=args.threads,
            probes=False,
        ).checked()
    except SettingsError as exc:
        raise _UsageError(str(exc)) from None
    printer = ProgressPrinter(out, tty=out.isatty(), quiet=args.quiet)
    trainer = Trainer(spec, source, settings, [printer])
    result = trainer.run()
    if isinstance(result, Failed):
        err.write(f"layerlab: {result.message}\n")
        # No setup means the run never started: its inputs (data, fit, device) were refused.
        # An unexpected error there (one with a traceback) is still a failure of ours, not bad input.
        before_training = trainer.setup is None and not result.details
        return EXIT_BAD_INPUT if before_training else EXIT_TRAINING_FAILED
    out.write(summary(result) + "\n")
    if exports:
        model = trainer.model.to("cpu")
        with torch.no_grad():
            model.eval()
        for target in exports:
            out.write(_export(model, spec, target) + "\n")
    return 0


def _check_exports(paths: list[Path]) -> None:
    from engine.export.formats import ExportError, format_for_path

    for target in paths:
        try:
            format_for_path(target)
        except ExportError as exc:
            raise _UsageError(str(exc)) from None
        if not target.parent.exists():
            raise _UsageError(
                f"cannot export to '{target}': the folder '{target.parent}' does not exist"
            )


def _export(model, spec, target: Path) -> str:
    # The one place the CLI writes files: engine.export.formats owns every format.
    from engine.export.formats import ExportError, export_model

    try:
        return export_model(model, spec, target, trained=True).message
    except ExportError as exc:
        raise _UsageError(str(exc)) from None
