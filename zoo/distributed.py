"""Data-parallel training under torchrun: the workers of one ``zoo train`` run.

``torchrun --standalone --nproc-per-node N -m zoo train ...`` starts N processes with
RANK, LOCAL_RANK, WORLD_SIZE (and the rendezvous address) in their environment. Each
joins one process group (gloo on the CPU, nccl on CUDA, where worker ``i`` of a node uses
``cuda:i``), trains on its slice of the global batch, and averages its gradients with the
others' through DistributedDataParallel. Worker 0 writes the checkpoints, the model
folder and its card; the others wait for it at a barrier and exit.

Outside torchrun (no WORLD_SIZE, or 1) a run is one worker and every method here is a
no-op, so the training loop has a single shape.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    import torch


def world_size_from_env() -> int:
    """The number of workers torchrun started (1 when not under torchrun)."""
    from zoo.bulk import world

    return world()[1]


def is_main_process() -> bool:
    """Whether this process is worker 0 (or not under torchrun): the one that reports."""
    from zoo.bulk import world

    return world()[0] == 0


@dataclass
class Workers:
    """This process's place among the workers of a run."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    backend: str | None = None  # None: one process, no process group

    @property
    def parallel(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Worker 0: it writes checkpoints, the model folder and the card."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait until every worker gets here."""
        if self.parallel:
            import torch.distributed as dist

            if self.backend == "nccl":
                dist.barrier(device_ids=[self.local_rank])
            else:
                dist.barrier()

    def _collective_device(self) -> torch.device:
        import torch

        return (
            torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")
        )

    def mean_losses(self, losses: dict[str, float]) -> dict[str, float]:
        """Each loss averaged over the workers (every worker's slice is the same size, so
        this is the loss over the global batch); ``losses`` itself on one worker."""
        if not self.parallel:
            return losses
        import torch
        import torch.distributed as dist

        values = torch.tensor(
            list(losses.values()), dtype=torch.float64, device=self._collective_device()
        )
        dist.all_reduce(values)
        return dict(zip(losses, (values / self.world_size).tolist(), strict=True))

    def gather_cpu(self, x: torch.Tensor) -> torch.Tensor:
        """(world_size, *x.shape): every worker's ``x``, in rank order, on the CPU."""
        import torch

        if not self.parallel:
            return x[None].clone()
        import torch.distributed as dist

        dev = self._collective_device()
        parts = [torch.empty_like(x, device=dev) for _ in range(self.world_size)]
        dist.all_gather(parts, x.to(dev).contiguous())
        return torch.stack(parts).cpu()

    def wrapper(self) -> Callable[[torch.nn.Module], torch.nn.Module]:
        """Turn a network into its DistributedDataParallel wrapper."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if self.backend == "nccl" else None
        return lambda net: DistributedDataParallel(net, device_ids=ids)

    def launcher(self) -> str:
        """The torchrun prefix that starts this run's workers, for the card's command."""
        nodes = self.world_size // self.local_world_size
        where = "--standalone" if nodes == 1 else f"--nnodes {nodes}"
        return f"torchrun {where} --nproc-per-node {self.local_world_size} -m"

    def describe(self, batch_size: int) -> str:
        """The card's line on how the run was split."""
        return (
            f"{self.world_size} workers (torchrun, DistributedDataParallel, {self.backend}), "
            f"{batch_size // self.world_size} images per worker of each global batch of "
            f"{batch_size}"
        )

    def stop(self) -> None:
        """Leave the process group (a no-op on one worker)."""
        if self.parallel:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def check(family: str, supported: bool, batch_size: int) -> int:
    """The world size after checking the run can be split: one line when it cannot."""
    world = world_size_from_env()
    if world <= 1:
        return 1
    if not supported:
        raise RequestError(
            f"family '{family}' cannot train data-parallel (its recipe does not declare "
            f"data_parallel); run it without torchrun: zoo train {family} ..."
        )
    if batch_size % world:
        raise RequestError(
            f"--batch-size {batch_size} does not split into {world} workers; "
            f"pass a multiple of {world}"
        )
    return world


def start(device: torch.device) -> tuple[Workers, torch.device]:
    """Join torchrun's process group; returns this worker and the device it trains on.

    On CUDA, worker ``i`` of a node uses ``cuda:i`` (any index in --device is replaced);
    elsewhere the CPU with gloo. Outside torchrun: one worker on ``device``.
    """
    import torch

    world = world_size_from_env()
    if world <= 1:
        return Workers(), device
    import torch.distributed as dist

    from zoo.bulk import world as layout

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    workers = Workers(
        rank=layout()[0],
        local_rank=local_rank,
        world_size=world,
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))),
    )
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        workers.backend = "nccl"
        dist.init_process_group("nccl", device_id=device)
    elif device.type == "cpu":
        workers.backend = "gloo"
        dist.init_process_group("gloo")
    else:
        raise RequestError(
            f"data-parallel training runs on cpu or cuda, not {device.type}; pass --device cpu"
        )
    return workers, device
