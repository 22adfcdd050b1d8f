"""Sharding a scoring run across torchrun processes: chunk k goes to rank k mod world size; every rank
writes its finished chunks into the run's chunk folder and rank 0 joins them in input order."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from sciformer.errors import OutputError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1

    @classmethod
    def from_environment(cls) -> Shard:
        """Rank and world size as torchrun sets them (RANK, WORLD_SIZE); one process otherwise."""
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))

    def owns(self, chunk_index: int) -> bool:
        """Whether this rank scores the chunk."""
        return chunk_index % self.world == self.rank

    def start(self, device: str) -> None:
        """Join the process group (gloo on CPU, NCCL on CUDA) when there are several ranks."""
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")

    def sum(self, values: Sequence[float]) -> list[float]:
        """Sum counters over ranks (integers stay integers)."""
        if self.world == 1:
            return list(values)
        tensor = torch.tensor(list(values), dtype=torch.float64)
        dist.all_reduce(tensor)
        return [total if isinstance(value, float) else int(total) for value, total in zip(values, tensor.tolist())]

    def agree(self, decide: Callable[[], T], what: str) -> T:
        """Run `decide` on rank 0 only and let every rank follow: its result is returned on every rank
        (it must pickle), and a refusal stops every rank before any work (rank 0 with its own error,
        the others with one line saying that rank 0 `what`)."""
        if self.world == 1:
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
        if self.world > 1:
            dist.barrier()

    def stop(self) -> None:
        """Leave the process group."""
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
