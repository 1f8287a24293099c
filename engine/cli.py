"""Headless training: ``python main.py train MODEL_FILE [options]``.

Prints a one-line progress bar on a terminal and plain lines per epoch otherwise, a summary at
the end, and exits 0. Any bad argument or file is one line ``layerlab: <reason>`` on stderr and
a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from engine.cli_options import (  # noqa: F401 - EXIT_*, MAX_SEED: part of this module's API
    EXIT_BAD_INPUT,
    EXIT_TRAINING_FAILED,
    MAX_SEED,
    UsageError,
    make_parser,
)
from engine.console import ProgressPrinter, ctrl_c_stops, summary
from engine.launch import LAUNCHED_HERE, LaunchError, join_run, launched_by_torchrun
from engine.training.events import Failed
from engine.training.settings import (
    DEFAULT_LR,
    TrainSettings,
)

# How long a rank that leaves a shared problem for rank 0 to say waits before it ends. Ending
# first, it had torchrun stop rank 0 before rank 0's sentence was written (the run then ended
# with status 2 and no word; once in a few dozen runs here). Rank 0 ends first, and torchrun
# stops the waiting ranks at once.
SILENT_RANK_GRACE = 5.0


def train_main(
    argv: list[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run headless training from command-line arguments; returns the process exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        return _train(argv, out, err)
    except (UsageError, LaunchError) as exc:
        mine = isinstance(exc, LaunchError) and exc.every_rank  # this rank's own problem
        if mine or os.environ.get("RANK", "0") == "0" or not launched_by_torchrun():
            err.write(f"layerlab: {exc}\n")
        else:
            time.sleep(SILENT_RANK_GRACE)
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
    if args.nproc is not None and not launched_by_torchrun():
        return _launch(args, argv, err)
    if args.resume is not None:
        return _resume(args, out, err)
    if args.model is None:
        raise UsageError(
            "the following arguments are required: MODEL_FILE (or --resume RUN_FOLDER)"
        )
    path = Path(args.model)
    if path.is_dir():
        raise UsageError(f"'{path}' is a folder, not a model file; give the path of a .json model")
    if not path.exists():
        raise UsageError(f"the model file '{path}' does not exist")
    try:
        spec = ModelSpec.load(path)  # its message names the file
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    problem = infer(spec).problem  # no torch yet: a model that cannot be built stops here
    if problem:
        raise UsageError(f"'{path.name}' cannot be trained: {problem}")
    # A relative path in the model file is read next to it; one on the command line, from here.
    source = DataSource.for_model(spec, path, name=args.dataset)
    if source is None:
        raise UsageError(f"'{path.name}' names no dataset; pass --dataset NAME_OR_PATH")
    exports = [Path(p) for p in args.export]
    _check_exports(exports)

    from engine.training.trainer import Trainer

    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    try:
        settings = TrainSettings(
            optimizer=args.optimizer,
            lr=lr,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            batch_size=args.batch_size,
            epochs=None if args.until_stopped else args.epochs,
            grad_clip=args.grad_clip,
            lr_schedule=args.lr_schedule,
            device=args.device,
            seed=args.seed,
            torch_threads=args.threads,
            probes=args.probes,
            checkpoint_every=args.checkpoint_every,
        ).checked()
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    group = join_run(settings)
    if group is not None:
        if settings.probes and group.is_main:
            err.write(
                "layerlab: warning: --probes is off with several processes (a probe's own "
                "backward pass would meet DDP's gradient hooks on rank 0 alone); the run folder "
                "gets the curves\n"
            )
        settings = replace(settings, device=group.device, probes=False)
    folder = (
        _new_run_folder(args.run_dir, path.parent / "runs", spec.name or path.stem)
        if group is None or group.is_main
        else None  # only rank 0 writes the run folder
    )
    trainer = Trainer(spec, source, settings, _printer(args, out, group), group=group)
    return _record_and_run(trainer, folder, exports, out, err)


def _printer(args, out: TextIO, group) -> list:
    if group is not None and not group.is_main:
        return []  # rank 0 speaks for the run
    return [ProgressPrinter(out, tty=out.isatty(), quiet=args.quiet)]


def _launch(args: argparse.Namespace, argv: list[str], err: TextIO) -> int:
    """--nproc N: this process starts N that train together, each `main.py train` as
    torchrun would start it. The run folder is chosen here, so a failure can name it."""
    from engine.launch import check_endpoint, launch, without_nproc

    if args.nproc < 1:
        raise UsageError(f"--nproc must be 1 or more, not {args.nproc}")
    if args.rdzv_endpoint is not None:
        check_endpoint(args.rdzv_endpoint)  # before a run folder is made for nothing
    rest, folder, made = without_nproc(argv), None, False
    if args.resume is not None:
        folder = Path(args.resume)
    elif args.run_dir is not None:
        folder = Path(args.run_dir)
    elif args.model is not None and Path(args.model).is_file() and args.nnodes == 1:
        # (On several machines rank 0 may start on any of them: it makes the folder there.)
        from engine.model.spec import ModelSpec, SpecError

        with contextlib.suppress(SpecError):  # the processes say what is wrong with it
            name = ModelSpec.load(args.model).name or Path(args.model).stem
            folder = _new_run_folder(None, Path(args.model).parent / "runs", name)
            rest, made = [*rest, "--run-dir", str(folder)], True
    return launch(
        rest, args.nproc, folder, err, made_folder=made, nnodes=args.nnodes,
        endpoint=args.rdzv_endpoint,
    )  # fmt: skip


def _record_and_run(
    trainer, folder: Path | None, exports: list[Path], out: TextIO, err: TextIO
) -> int:
    """Train, recording into ``folder`` (None: a distributed run's rank other than 0, which
    trains its share and says nothing)."""
    import torch

    from engine.runs.recorder import RunRecorder

    group = trainer.group
    if folder is None:
        return _run_quietly(trainer)
    recorder = RunRecorder(folder, trainer, checkpoint_every=trainer.settings.checkpoint_every)
    trainer.callbacks.append(recorder)
    trainer.run_folder = str(folder)
    spec = trainer.spec
    with ctrl_c_stops(trainer, err):
        result = trainer.run()
    agree = _replicas_agree(trainer, result)
    if recorder.problem is not None:
        err.write(f"layerlab: warning: {recorder.problem}\n")
    if isinstance(result, Failed):
        if not recorder.started:  # failed before its first step: leave no empty run folder
            with contextlib.suppress(OSError):
                folder.rmdir()
        if not (trainer.lost_peer and os.environ.get(LAUNCHED_HERE)):  # the launcher says it
            err.write(f"layerlab: {result.message}\n")
        # No setup means the run never started: its inputs (data, fit, device) were refused.
        # An unexpected error there (one with a traceback) is still a failure of ours, not bad input.
        before_training = trainer.setup is None and not result.details
        return EXIT_BAD_INPUT if before_training else EXIT_TRAINING_FAILED
    out.write(summary(result) + "\n")
    if group is not None:
        same = "the same weights" if agree else "DIFFERENT weights (a bug: please report it)"
        out.write(f"processes: {group.describe()}, {same} on every rank\n")
    out.write(f"run folder: {folder}\n")
    if exports:
        model = trainer.model.to("cpu")
        with torch.no_grad():
            model.eval()
        for target in exports:
            out.write(_export(model, spec, target) + "\n")
    return 0 if agree else EXIT_TRAINING_FAILED


def _run_quietly(trainer) -> int:
    """A rank other than 0 of a distributed run: it trains its share; rank 0 speaks."""
    with ctrl_c_stops(trainer, None):
        result = trainer.run()
    agree = _replicas_agree(trainer, result)
    if isinstance(result, Failed):
        return EXIT_BAD_INPUT if trainer.setup is None and not result.details else 1
    return 0 if agree else EXIT_TRAINING_FAILED


def _replicas_agree(trainer, result) -> bool:
    """After a distributed run, whether every rank ended with the same weights (a checksum
    of each, all-gathered: a collective every rank makes); the group is then left."""
    group = trainer.group
    if group is None:
        return True
    from engine.training.distributed import lost_peer

    try:
        return isinstance(result, Failed) or group.weights_agree(trainer.model)
    except Exception as exc:
        if not lost_peer(exc):
            raise
        # A rank was lost after the last step: the run's weights are all on disk, and the
        # launcher says which rank went; there is nothing left to compare them with.
        trainer.lost_peer = True
        return True
    finally:
        group.close(peer_lost=trainer.lost_peer)


def _new_run_folder(run_dir: str | None, default_parent: Path, model_name: str) -> Path:
    """--run-dir DIR (new or empty), or a new folder in the default place."""
    from engine.runs.folder import RUN_FILE, RunFolderError, new_run_folder

    try:
        if run_dir is None:
            return new_run_folder(default_parent, model_name)
        folder = Path(run_dir)
        if (folder / RUN_FILE).exists():
            raise UsageError(
                f"'{folder}' already holds a run; continue it with --resume {folder}, "
                "or choose another --run-dir"
            )
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise UsageError(f"cannot write the run folder '{folder}': it is read-only")
        return folder
    except RunFolderError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot make the run folder '{run_dir}': {exc.strerror or exc}") from None


def _resume(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engine.runs.folder import RunFolderError
    from engine.runs.resume import plan_resume
    from engine.training.trainer import Trainer

    if args.model is not None or args.run_dir is not None:
        raise UsageError(
            "--resume continues the run in its own folder with its own model; "
            "leave out MODEL_FILE and --run-dir"
        )
    if args.epochs < 1:
        raise UsageError(f"--epochs must be 1 or more, not {args.epochs}")
    exports = [Path(p) for p in args.export]
    _check_exports(exports)
    device = args.device if args.device != "auto" else None
    try:
        plan = plan_resume(
            args.resume,
            args.epochs,
            which=args.resume_from,
            dataset=args.dataset,
            device=device,
            torch_threads=args.threads,
        )
    except RunFolderError as exc:
        raise UsageError(str(exc)) from None
    settings = plan.settings
    group = join_run(settings)
    if group is not None:
        settings = replace(settings, device=group.device)
    trainer = Trainer(
        plan.spec, plan.dataset, settings, _printer(args, out, group),
        resume_from=plan.checkpoint, group=group,
    )  # fmt: skip
    folder = plan.folder if group is None or group.is_main else None
    return _record_and_run(trainer, folder, exports, out, err)


def _check_exports(paths: list[Path]) -> None:
    from engine.export.formats import ExportError, format_for_path

    for target in paths:
        try:
            format_for_path(target)
        except ExportError as exc:
            raise UsageError(str(exc)) from None
        if not target.parent.exists():
            raise UsageError(
                f"cannot export to '{target}': the folder '{target.parent}' does not exist"
            )


def _export(model, spec, target: Path) -> str:
    # The one place the CLI writes files: engine.export.formats owns every format.
    from engine.export.formats import ExportError, export_model

    try:
        return export_model(model, spec, target, trained=True).message
    except ExportError as exc:
        raise UsageError(str(exc)) from None
