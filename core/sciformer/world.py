"""This process's place among the processes of a run: one notion for training and scoring under torchrun.

A plain process is a world of one. Under torchrun, `process_group` joins the group (gloo on the CPU,
NCCL on CUDA with this process's GPU from LOCAL_RANK); the output folder must be visible to every rank.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

from sciformer.errors import OutputError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's rank among `size` processes, and its GPU index on its machine (`local_rank`)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> World:
        """Rank, world size and local rank as torchrun sets them (RANK, WORLD_SIZE, LOCAL_RANK); one process otherwise."""
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0")))

    @classmethod
    def current(cls) -> World:
        """The initialised process group's rank and size; a world of one without one."""
        if not (dist.is_available() and dist.is_initialized()):
            return cls()
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the only rank that writes shared files."""
        return self.rank == 0

    def device(self, requested: str) -> torch.device:
        """The device to run on: `cuda` becomes this process's GPU (LOCAL_RANK) when there are several ranks."""
        device = torch.device(requested)
        if device.type == "cuda" and device.index is None and self.size > 1:
            return torch.device("cuda", self.local_rank)
        return device

    def owns(self, index: int) -> bool:
        """Whether this rank takes work item `index` (item k goes to rank k mod size)."""
        return index % self.size == self.rank

    def sum(self, values: Tensor) -> Tensor:
        """Element-wise sum over ranks, in float64 (the same result on every rank)."""
        values = values.detach().to(torch.float64)
        if self.size == 1:
            return values
        on = "cuda" if dist.get_backend() == "nccl" else "cpu"
        reduced = values.to(on)
        dist.all_reduce(reduced)
        return reduced.cpu()

    def sum_counts(self, values: Sequence[float]) -> list[float]:
        """Counters summed over ranks (integers stay integers)."""
        totals = self.sum(torch.tensor(list(values), dtype=torch.float64)).tolist()
        return [total if isinstance(value, float) else int(total) for value, total in zip(values, totals)]

    def gather(self, values: Tensor) -> Tensor:
        """Every rank's `values` (any length along the first axis) concatenated in rank order, on the CPU."""
        values = values.detach().cpu()
        if self.size == 1:
            return values
        parts: list[Tensor | None] = [None] * self.size
        dist.all_gather_object(parts, values)
        return torch.cat([part for part in parts if part is not None])

    def agree(self, decide: Callable[[], T], what: str) -> T:
        """Run `decide` on rank 0 only and let every rank follow: its result is returned on every rank
        (it must pickle), and a refusal stops every rank before any work (rank 0 with its own error,
        the others with one line saying that rank 0 `what`)."""
        if self.size == 1:
            return decide()
        outcome: list[object] = [None]
        failure: Exception | None = None
        if self.rank == 0:
            try:
                outcome[0] = ("ok", decide())
            except Exception as error:  # every rank must hear of it, or the others would wait forever  # noqa: BLE001
                failure, outcome[0] = error, ("refused", str(error))
        dist.broadcast_object_list(outcome, src=0)
        kind, value = outcome[0]  # type: ignore[misc]
        if failure is not None:
            raise failure
        if kind == "refused":
            raise OutputError(f"rank 0 {what}: {value}")
        return value  # type: ignore[return-value]

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.size > 1:
            dist.barrier()


@contextmanager
def process_group(device: str) -> Iterator[World]:
    """Join the torchrun process group (gloo on the CPU, NCCL on CUDA, this process's GPU from LOCAL_RANK)
    for the duration of a run, and leave it together at the end.

    A plain process (no WORLD_SIZE above 1) is a world of one; a group the caller already started is
    used as it is and left open. After an error the group is left without waiting for the other ranks.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    started = False
    if size > 1 and not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
        started = True
    finished = False
    try:
        yield World.current()
        finished = True
    finally:
        if started:
            if finished:
                dist.barrier()  # leaving together: a rank tearing down while another still talks aborts the run
            dist.destroy_process_group()
