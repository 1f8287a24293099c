"""`python main.py train --nproc N …`: the same distributed run as
`torchrun --nproc-per-node N main.py train …`, started through torch.distributed.run (PyTorch's
own launcher, in this process) so nobody has to type torchrun, and with its failures said in one
line: which rank died and how, and where the run's folder and last checkpoint are.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
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
    except DeviceError as exc:  # the same on every rank (no CUDA here): rank 0 says it
        raise LaunchError(str(exc)) from None
    except DistributedError as exc:  # this rank's own (its GPU, its connection)
        raise LaunchError(str(exc), every_rank=True) from None


def launch(
    argv: list[str],
    nproc: int,
    run_folder: Path | None,
    err: TextIO,
    *,
    made_folder: bool = False,
    nnodes: int = 1,
    endpoint: str | None = None,
) -> int:
    """Start ``nproc`` processes of `main.py train ARGV` on this machine and wait for them.
    ``run_folder``: where rank 0 records (named in a failure's line); ``made_folder``: it was
    made for this run, so it is removed again when the run never started. Across ``nnodes``
    machines, each runs the same command and they meet at ``endpoint`` (HOST:PORT, the first
    machine's: torchrun's c10d rendezvous; check_endpoint says first what would only hang)."""
    if endpoint is not None:
        meeting = ["--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}", f"--nnodes={nnodes}"]
    elif nnodes > 1:
        raise LaunchError(f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT, the first machine's")
    else:
        meeting = ["--standalone"]  # a rendezvous on a free local port: none to choose
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    # torchrun warns, on every start, that it sets one OpenMP thread per process; say it here
    # instead (README): N processes share the machine's cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Rank 0 then leaves it to this launcher to say which rank was lost (it cannot know).
    os.environ[LAUNCHED_HERE] = "1"
    config = get_args_parser().parse_args([
        *meeting,
        f"--nproc-per-node={nproc}",
        "--max-restarts=0",
        "--monitor-interval=0.2",  # a dead rank is noticed, and the others stopped, this soon
        str(MAIN), "train", *argv,
    ])  # fmt: skip
    # Its log lines (a worker's exit, a signal received) are not for our users: what matters is
    # said below, in a sentence. Each elastic module's logger has its own level, so all are set.
    loggers = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith("torch.distributed")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        run(config)
    except ChildFailedError as exc:
        return _failure(exc, run_folder, err, made_folder)
    except SignalException:
        # Ctrl+C (or a SIGTERM) reached the launcher: it passed the signal on to the processes
        # and waited for them. One Ctrl+C stops a run cleanly (rank 0 wrote "stopped").
        return 0 if _status(run_folder) == "stopped" else 130
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    return 0


def check_endpoint(endpoint: str, wait: float | None = None) -> None:
    """Say at once what torchrun would only show by hanging: a port on this machine that
    another program holds (torchrun would wait on it as if it were the rendezvous), a host that
    does not resolve, or one that does not answer within ``wait`` seconds
    (LAYERLAB_RENDEZVOUS_WAIT, 60: the first machine may start a little later)."""
    host, _, port_text = endpoint.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise LaunchError(
            f"--rdzv-endpoint must be HOST:PORT, such as node0.lab:29400, not '{endpoint}'"
        )
    port = int(port_text)
    try:
        address = socket.gethostbyname(host)
    except OSError:
        raise LaunchError(
            f"the rendezvous host '{host}' is not known here: check the name in --rdzv-endpoint"
        ) from None
    if _is_this_machine(address):
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                raise LaunchError(
                    f"port {port} on this machine is in use by another program: choose another "
                    f"port in --rdzv-endpoint (the same on every machine)"
                ) from None
        return  # this machine hosts the rendezvous: the port is free for it
    wait = float(os.environ.get("LAYERLAB_RENDEZVOUS_WAIT", 60)) if wait is None else wait
    deadline = time.monotonic() + wait
    while True:
        try:
            socket.create_connection((address, port), timeout=3).close()
            return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise LaunchError(
                    f"cannot reach the rendezvous at {endpoint} ({exc.strerror or exc}) after "
                    f"{wait:g} s: start the command on that machine first, and check that its "
                    f"firewall lets port {port} in"
                ) from None
            time.sleep(1)


def _is_this_machine(address: str) -> bool:
    if address.startswith("127.") or address == "0.0.0.0":
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))  # only an address of this machine can be bound
        except OSError:
            return False
    return True


def _status(run_folder: Path | None) -> str | None:
    if run_folder is None:
        return None
    try:
        return json.loads((run_folder / "run.json").read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None


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


LAUNCHER_OPTIONS = ("--nproc", "--nnodes", "--rdzv-endpoint")


def without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less the launcher's own options (the processes it starts must not start more)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCHER_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in LAUNCHER_OPTIONS)):
            out.append(arg)
    return out
