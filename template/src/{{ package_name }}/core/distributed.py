# Template file (copier-mlops): `copier update` merges new versions into it.
"""Data-parallel training across the processes torchrun starts, one per GPU.

`make train` runs `torchrun --nproc-per-node $(NPROC) -m <package> train`; torchrun gives
every process its RANK, LOCAL_RANK and WORLD_SIZE. The estimator's fit then joins the
process group (NCCL between GPUs, gloo on CPUs), wraps the network in
DistributedDataParallel and trains each process on its share of every batch. All
processes draw the same batches from the same seed, and the loss is scaled so that the
averaged gradients equal those of one process over the whole batch: a distributed run
gives the single-process results (tests/test_distributed.py checks it). Rank 0 alone
writes the model, metrics and logs. Without torchrun the world has one process and
nothing here does anything.
"""

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    local_rank: int
    size: int


def world() -> World:
    """This process's place among the processes torchrun started (0 of 1 without torchrun)."""
    values = {}
    for name, default in (("RANK", 0), ("LOCAL_RANK", 0), ("WORLD_SIZE", 1)):
        raw = os.environ.get(name, str(default))
        try:
            values[name] = int(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not an integer: launch with torchrun") from None
    if values["WORLD_SIZE"] < 1 or not 0 <= values["RANK"] < values["WORLD_SIZE"]:
        raise ValueError(
            f"RANK={values['RANK']} does not fit WORLD_SIZE={values['WORLD_SIZE']}: "
            "start training with torchrun"
        )
    return World(rank=values["RANK"], local_rank=values["LOCAL_RANK"], size=values["WORLD_SIZE"])


def is_main_process() -> bool:
    """Rank 0 writes artefacts and reports; the others only train."""
    return world().rank == 0


def join(device: torch.device) -> None:
    """Join the process group once per process: NCCL between GPUs, gloo on CPUs."""
    if dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    atexit.register(leave)


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This process's rows of a batch every process drew alike: every WORLD_SIZE-th row."""
    current = world()
    return batch[current.rank :: current.size]
