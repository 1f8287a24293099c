"""Training on several processes with PyTorch's own engine: DistributedDataParallel under
torchrun (gloo on CPUs, NCCL on CUDA devices). Nothing here is home-made distribution: torchrun
starts the processes and sets RANK, WORLD_SIZE and LOCAL_RANK; torch.distributed does the rest.

What a distributed run means in LayerLab (README "Training on several processes"):

- ``--batch-size`` is the **global** batch: each step, every process takes its share of the
  same batch a single process would take (the shuffled order is the same everywhere: one seed),
  and DDP averages the gradients. A run on N processes thus follows the single-process run step
  for step, and the learning rate needs no change with N.
- Validation is split across the processes and its sums are reduced, so the metrics are of the
  whole validation set.
- Only rank 0 writes the run folder, the checkpoints, the exports and the output.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import zlib
from dataclasses import dataclass

import torch
import torch.distributed as dist

from engine.training.devices import DeviceError

# A collective that waits longer than this for a peer is an error rather than a hang (a rank
# that died is noticed by torchrun within a second; this bounds the rest).
COLLECTIVE_TIMEOUT = datetime.timedelta(seconds=120)


class DistributedError(RuntimeError):
    """A distributed run cannot start (a device a rank cannot use, no rendezvous); a sentence."""


class PeerLost(DistributedError):
    """Another rank stopped answering in a collective (it died or was killed)."""

    def __init__(self, rank: int) -> None:
        super().__init__(
            f"Another process of this distributed run stopped answering, so this one (rank "
            f"{rank}) stopped too; the run's last checkpoint is kept for --resume."
        )


def lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective's error about a rank that is gone (gloo and NCCL raise
    RuntimeError or torch.distributed.DistError with the transport's text)."""
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        word in text for word in ("gloo", "nccl", "connection reset", "connection closed")
    )


@dataclass
class ProcessGroup:
    """This process's place in a distributed run, and the collectives the training loop uses."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: str  # the device this rank trains on: "cpu" or "cuda:<local rank>"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return f"{self.world_size} processes ({self.backend})"

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This rank's share of a batch's indices: contiguous, sizes differing by at most one."""
        return idx.tensor_split(self.world_size)[self.rank]

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` summed over every rank (in place; also returned)."""
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as DDP trains it: rank 0's weights broadcast to all, gradients averaged."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids)

    def weights_agree(self, model: torch.nn.Module) -> bool:
        """Whether every rank holds the same weights: a CRC of each rank's state, all-gathered."""
        crc = 0
        for name, value in sorted(model.state_dict().items()):
            data = value.detach().to("cpu").contiguous()
            crc = zlib.crc32(name.encode(), crc)
            crc = zlib.crc32(data.view(torch.uint8).numpy().tobytes(), crc)
        mine = torch.tensor([crc], dtype=torch.int64, device=self.device)
        everyone = [torch.zeros_like(mine) for _ in range(self.world_size)]
        dist.all_gather(everyone, mine)
        return len({int(t.item()) for t in everyone}) == 1

    def close(self, *, peer_lost: bool = False) -> None:
        """Leave the group together: a rank that tears its connections down while another
        still uses them aborts ("terminate called without an active exception").
        ``peer_lost``: another rank is gone, so there is nobody to wait for (the barrier would
        fail with a traceback) and nothing to say: the run's end or the launcher said why."""
        if not dist.is_initialized():
            return
        if not peer_lost:
            dist.barrier()
            dist.destroy_process_group()
            return
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def join_process_group(device_setting: str) -> ProcessGroup:
    """Join the run torchrun started (its environment names the rank and the rendezvous):
    NCCL on this rank's own GPU (cuda:LOCAL_RANK) when the run asks for a GPU and there is one,
    gloo on the CPU otherwise. Raises DistributedError with a sentence."""
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    wants_gpu = device_setting == "auto" or device_setting.startswith("cuda")
    if wants_gpu and torch.cuda.is_available():
        if local >= torch.cuda.device_count():
            raise DistributedError(
                f"Process rank {rank} (local rank {local}) has no GPU of its own: this machine "
                f"has {torch.cuda.device_count()}. Start at most that many processes per machine."
            )
        device, backend = f"cuda:{local}", "nccl"
        torch.cuda.set_device(local)
    elif device_setting.startswith("cuda"):
        raise DeviceError(
            f"Process rank {rank} was asked to train on '{device_setting}', but torch sees no "
            "CUDA device here. Use --device cpu (gloo) or a machine with GPUs."
        )
    elif device_setting not in ("auto", "cpu"):
        raise DeviceError(
            f"A distributed run trains on the CPU (gloo) or on CUDA GPUs (NCCL), not on "
            f"'{device_setting}'."
        )
    else:
        device, backend = "cpu", "gloo"
    try:
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    except (RuntimeError, ValueError) as exc:  # DistNetworkError and DistStoreError included
        where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        raise DistributedError(
            f"Process rank {rank} could not join the run at {where}: {exc}".rstrip(".") + "."
        ) from None
    return ProcessGroup(rank, world, local, backend, device)
