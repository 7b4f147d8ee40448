"""Several processes training one model: the few calls the training loop and `redraw pretrain` make.

    torchrun --nproc_per_node 2 -m redraw_trainer.cli pretrain ...   # or: redraw pretrain --nproc 2

Under torchrun (WORLD_SIZE > 1 in the environment) `session()` joins the process group: gloo on the CPU, NCCL on
CUDA with this rank's device cuda:LOCAL_RANK (`place`). Without it every helper is the one-process case (rank 0 of
1, barriers return at once, means are the values themselves), so one process runs exactly as it always did.
Rank 0 writes every file; the others wait for it at barriers.
"""

from __future__ import annotations

import os
import pickle
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from redraw_trainer.core.devices import resolve_device

T = TypeVar("T")

# Between two barriers rank 0 may work alone for long (Plan2Explore's explorer, the last checkpoint) and the
# ranks collect simulator data for long: far beyond the default 30 minutes on the paper preset.
TIMEOUT = timedelta(hours=6)


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Rank 0: the one process that writes checkpoints, logs and the final files."""
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def share(items: Sequence[T]) -> list[T]:
    """This rank's share of `items`: every world_size-th, from the rank's index (all of them in one process)."""
    return list(items[rank()::world_size()])


def place(device: torch.device) -> torch.device:
    """This rank's device: cuda:LOCAL_RANK when CUDA training runs across ranks, else `device` as resolved."""
    if world_size() > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def mean(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Scalar metrics averaged over the ranks (one all-reduce); as given in one process. Every rank must call it."""
    if world_size() == 1:
        return values
    keys = list(values)  # the same order on every rank: the same code made the dict
    stacked = torch.stack([values[key].detach().float().reshape(()) for key in keys])
    dist.all_reduce(stacked)
    return dict(zip(keys, stacked / world_size()))


class _Loss(nn.Module):
    """`model.loss(...)` as a module's forward: DistributedDataParallel hooks forward, not other methods."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model.loss(*args, **kwargs)


def data_parallel_loss(model: nn.Module, device: torch.device) -> Callable[..., Any]:
    """`model.loss`, whose backward averages the gradients over the ranks (DistributedDataParallel) when there
    are several; in one process `model.loss` itself. DDP starts every rank from rank 0's weights; every parameter
    must take part in each rank's loss (`WorldModel.lane_loss` passes rows without a lane pose through its head)."""
    if world_size() == 1:
        return model.loss
    return DistributedDataParallel(_Loss(model), device_ids=[device] if device.type == "cuda" else None)


@contextmanager
def session(device: str = "auto") -> Iterator[None]:
    """Join the process group torchrun's environment describes for the time of the block (nothing in one process).
    `device` is the config's: CUDA training speaks NCCL, CPU training gloo."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield
        return
    dist.init_process_group("nccl" if resolve_device(device).type == "cuda" else "gloo", timeout=TIMEOUT)
    try:
        yield
    finally:
        dist.destroy_process_group()


def launch(nproc: int, device: str, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in `nproc` new processes, ranks 0..nproc-1 of one group on this machine (what torchrun
    does); returns rank 0's result. A rank that fails raises here, with its traceback."""
    with socket.socket() as probe:  # a free port for the group's rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rank0.pkl"
        mp.start_processes(_rank_main, args=(nproc, port, str(result), device, fn, args), nprocs=nproc,
                           start_method="spawn")
        return pickle.loads(result.read_bytes())


def _rank_main(index: int, nproc: int, port: int, result: str, device: str, fn: Callable[..., Any],
               args: tuple[Any, ...]) -> None:
    os.environ.update(RANK=str(index), LOCAL_RANK=str(index), WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))  # as torchrun: one thread a rank unless told
    with session(device):
        value = fn(*args)
    if index == 0:
        Path(result).write_bytes(pickle.dumps(value))
