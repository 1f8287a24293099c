"""The options of ``python main.py train`` (one argparse parser, errors as one line) and its
exit statuses; engine/cli.py runs what they ask for."""

from __future__ import annotations

import argparse

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


class UsageError(Exception):
    """A bad command line, reported as one line (in a distributed run by rank 0 alone: every
    rank finds the same)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit(2); we want one line
        raise UsageError(message)


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
    p.add_argument("model", metavar="MODEL_FILE", nargs="?", help="a LayerLab model file (.json)")
    p.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        help="a built-in dataset id or a data file/folder (default: the model file's dataset, "
        "a relative path read from the model file's folder)",
    )
    defaults = TrainSettings()
    p.add_argument("--epochs", type=int, default=defaults.epochs, metavar="N")
    p.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train with N processes on this machine (DistributedDataParallel through "
        "torch.distributed.run, as torchrun --nproc-per-node N does); --batch-size stays the "
        "global batch",
    )
    p.add_argument(
        "--nnodes",
        type=int,
        default=1,
        metavar="M",
        help="with --nproc: machines taking part; run the same command on each",
    )
    p.add_argument(
        "--rdzv-endpoint",
        metavar="HOST:PORT",
        help="with --nproc on several machines: where they meet (the first machine's address "
        "and a free port)",
    )
    p.add_argument(
        "--until-stopped",
        action="store_true",
        help="train until Ctrl+C instead of for --epochs (the run then stops cleanly: last "
        "checkpoint, status 'stopped', exports written)",
    )
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
    _add_run_options(p)
    return p


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--run-dir",
        metavar="DIR",
        help="write this run's folder here (default: a new folder in 'runs' beside the model "
        "file, named after the model and the start time)",
    )
    p.add_argument(
        "--resume",
        metavar="RUN_FOLDER",
        help="continue the run in RUN_FOLDER for --epochs more epochs (no MODEL_FILE then)",
    )
    p.add_argument(
        "--from",
        dest="resume_from",
        choices=("last", "best"),
        default="last",
        help="the checkpoint --resume goes on from (default last)",
    )
    p.add_argument(
        "--probes",
        action="store_true",
        help="run the probes and keep their newest snapshots in the run folder, so File > "
        "Open Run shows the views too (off by default: they cost time)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=TrainSettings().checkpoint_every,
        metavar="N",
        help="epochs between checkpoints, and at most one a second (the best epoch and the end "
        "are always kept)",
    )
