"""`python main.py train --nproc N …`: the same distributed run as
`torchrun --nproc-per-node N main.py train …`, started through torch.distributed.run (PyTorch's
own launcher, in this process) so nobody has to type torchrun, and with its failures said in one
line: which rank died and how, and where the run's folder and last checkpoint are.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TextIO

MAIN = Path(__file__).resolve().parent.parent / "main.py"
EXIT_BAD_INPUT, EXIT_TRAINING_FAILED = 2, 1  # as engine/cli.py's
LAUNCHED_HERE = "LAYERLAB_LAUNCHED"  # set for the processes launch() starts


class LaunchError(ValueError):
    """A distributed run that cannot start, as a sentence; ``every_rank``: a problem of this
    rank's own (each says it), not one every rank finds alike (rank 0 says it)."""

    def __init__(self, message: str, *, every_rank: bool = False) -> None:
        super().__init__(message)
        self.every_rank = every_rank


def launched_by_torchrun() -> bool:
    """True in a process torchrun started as one of several (it sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def join_run(settings):
    """The process group of a run torchrun started (None for one process). LaunchError when
    the global batch cannot give every rank a share, or this rank cannot join."""
    if not launched_by_torchrun():
        return None
    from engine.training.devices import DeviceError
    from engine.training.distributed import DistributedError, join_process_group

    world = int(os.environ["WORLD_SIZE"])
    if settings.batch_size < world:  # every rank finds it, before any waits for the others
        raise LaunchError(
            f"--batch-size {settings.batch_size} is the global batch, shared by {world} "
            f"processes: make it at least {world}"
        )
    try:
        return join_process_group(settings.device)
    except (DistributedError, DeviceError) as exc:
        raise LaunchError(str(exc), every_rank=True) from None


def launch(
    argv: list[str],
    nproc: int,
    run_folder: Path | None,
    err: TextIO,
    *,
    made_folder: bool = False,
) -> int:
    """Start ``nproc`` processes of `main.py train ARGV` on this machine and wait for them.
    ``run_folder``: where rank 0 records (named in a failure's line); ``made_folder``: it was
    made for this run, so it is removed again when the run never started."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    # torchrun warns, on every start, that it sets one OpenMP thread per process; say it here
    # instead (README): N processes share the machine's cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Rank 0 then leaves it to this launcher to say which rank was lost (it cannot know).
    os.environ[LAUNCHED_HERE] = "1"
    config = get_args_parser().parse_args([
        "--standalone",  # a rendezvous on a free local port: no port to choose or collide on
        f"--nproc-per-node={nproc}",
        "--max-restarts=0",
        "--monitor-interval=0.2",  # a dead rank is noticed, and the others stopped, this soon
        str(MAIN), "train", *argv,
    ])  # fmt: skip
    quiet = logging.getLogger("torch.distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its log lines are not for our users: we say it below
    try:
        run(config)
    except ChildFailedError as exc:
        return _failure(exc, run_folder, err, made_folder)
    finally:
        quiet.setLevel(level)
    return 0


def _failure(exc, run_folder: Path | None, err: TextIO, made_folder: bool) -> int:
    rank, first = exc.get_first_failure()
    if first.exitcode > 0:
        # The first rank to end did so on its own, and rank 0 has said why (bad input, a failed
        # run); the others were stopped after it.
        if made_folder and run_folder is not None:
            with contextlib.suppress(OSError):
                run_folder.rmdir()  # only when empty: the run never started
        return EXIT_BAD_INPUT if first.exitcode == EXIT_BAD_INPUT else EXIT_TRAINING_FAILED
    how = (
        f"was killed by {first.signal_name()}"
        if first.exitcode < 0
        else f"ended with status {first.exitcode}"
    )
    where = (
        f" The run folder '{run_folder}' keeps its last checkpoint: continue with "
        f"--resume {run_folder}."
        if run_folder is not None and (run_folder / "run.json").exists()
        else ""
    )
    err.write(
        f"layerlab: process rank {rank} (pid {first.pid}) {how}; the other processes were "
        f"stopped.{where}\n"
    )
    return EXIT_TRAINING_FAILED


def without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less its --nproc option (the processes it starts must not start more)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out
