"""Training on several processes at once (`torchrun --nproc_per_node N run_model.py`).

One process per GPU (or CPU worker) is how torch.distributed scales; torchrun tells
each its place through the environment (read in `settings.py`). This module joins
them into one process group (NCCL between GPUs, gloo on CPUs) and gives the loop
what it needs: which rank, how many, this rank's shard of a batch, sums over ranks.
Every rank draws the same global batch from the same generator, trains on its shard
(every world_size-th image), and DistributedDataParallel averages the gradients, so
the schedule is that of one process. BatchNorm normalises over each rank's shard
(no SyncBatchNorm: CUDA only, so untestable on CPUs, and a collective per layer per
step); the saved statistics come from `recalibrate_batchnorm`, identical on every
rank. Without torchrun the world size is 1 and none of this does anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from model.device import pick_device


def rank_and_world_size() -> tuple[int, int]:
    """(this process's rank, number of processes); (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def world_size() -> int:
    return rank_and_world_size()[1]


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's part of a global batch: every world_size-th item, from its rank on."""
    rank, size = rank_and_world_size()
    return batch[rank::size] if size > 1 else batch


def all_reduce_sum(total: torch.Tensor) -> torch.Tensor:
    """`total` summed over every rank (in place); unchanged in one process."""
    if world_size() > 1:
        dist.all_reduce(total)
    return total


def wrap_for_ranks(net: nn.Module, device: torch.device, seed: int) -> nn.Module:
    """`net` in DistributedDataParallel on several processes, else `net` itself.

    DDP broadcasts rank 0's weights; afterwards each rank reseeds, so dropout draws
    masks of its own per rank, as different images get different masks in one process.
    """
    rank, size = rank_and_world_size()
    if size <= 1:
        return net
    wrapped = DistributedDataParallel(net, device_ids=[device] if device.type == "cuda" else None)
    torch.manual_seed(seed * 1000 + rank)
    return wrapped


def is_rank_zero() -> bool:
    """Only rank 0 writes weights, card and pictures: one copy of each output."""
    return rank_and_world_size()[0] == 0


@contextmanager
def process_group(world_size: int, rank: int, local_rank: int, device: str) -> Iterator[str]:
    """Join torchrun's process group for the block; yields the device this rank uses.

    With a world size of 1 nothing is joined and `device` comes back unchanged. On
    CUDA every process takes the GPU of its local rank (`cuda:LOCAL_RANK`), so
    `--device auto` or `cuda` on a machine with N GPUs uses all N.
    """
    if world_size <= 1:
        yield device
        return
    chosen = pick_device(device)
    if chosen.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK {local_rank} has no GPU: this machine has "
                f"{torch.cuda.device_count()}; start at most that many processes per node"
            )
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
        backend = "nccl"
    elif chosen.type == "cpu":
        backend = "gloo"
    else:
        raise ValueError(f"--device {device}: distributed training runs on CUDA or the CPU")
    dist.init_process_group(backend, init_method="env://", world_size=world_size, rank=rank)
    try:
        yield str(chosen)
    finally:
        dist.destroy_process_group()


@contextmanager
def rank_zero_first() -> Iterator[None]:
    """Let rank 0 run the block (e.g. download MNIST into the cache) before the others.

    Several processes downloading into one cache folder at once would overwrite each
    other's files; after rank 0 is done the others find the verified copy.
    """
    rank, world_size = rank_and_world_size()
    if world_size > 1 and rank != 0:
        dist.barrier()
    yield
    if world_size > 1 and rank == 0:
        dist.barrier()
