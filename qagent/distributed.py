"""Running across processes with torch.distributed (launched by ``torchrun``).

- ``setup()`` joins the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK,
  MASTER_ADDR/PORT): NCCL when the processes use GPUs, gloo on CPUs; each process takes GPU
  LOCAL_RANK.
- ``shard(n)`` is this rank's share of n items (a strided slice); ``all_sum`` and
  ``gather_objects`` combine results. Simulation results are integer counts, so summing
  shards gives exactly the single-process result for the same seed.

Outside torchrun (or without ``distributed=True``) every helper degrades to one process.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 or (dist.is_available() and dist.is_initialized())


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup(device: str = "auto", timeout_s: float = 600.0) -> Context:
    """Join (or reuse) the process group; returns this process's rank, world size and device."""
    if not launched_by_torchrun():
        raise RuntimeError("--distributed needs a launcher that sets RANK and WORLD_SIZE: run it with "
                           "torchrun --nproc_per_node N $(which qagent-train) --distributed ...")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    dev = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo",
                                timeout=datetime.timedelta(seconds=timeout_s))
    return Context(rank, world, local_rank, dev)


def current() -> Context:
    """The running context (one process when no group is initialised)."""
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return Context()


def shard(n: int, ctx: Context | None = None) -> slice:
    ctx = ctx or current()
    return slice(ctx.rank, n, ctx.world_size)


def all_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (in place; returned for chaining). A no-op in one process."""
    if current().enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_objects(obj) -> list:
    """Every rank's obj, in rank order, on every rank."""
    ctx = current()
    if not ctx.enabled:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if current().enabled:
        dist.barrier()


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
