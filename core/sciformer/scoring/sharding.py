"""Sharding a scoring run across torchrun processes: chunk k goes to rank k mod world size, each rank
writes a part file, and rank 0 merges the parts in input order into one file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import h5py
import torch
import torch.distributed as dist

from sciformer.data.results import ROWS_COMPLETE, ResultWriter


@dataclass(frozen=True)
class Shard:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1

    @classmethod
    def from_environment(cls) -> "Shard":
        """Rank and world size as torchrun sets them (RANK, WORLD_SIZE); one process otherwise."""
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))

    def owns(self, chunk_index: int) -> bool:
        """Whether this rank scores the chunk."""
        return chunk_index % self.world == self.rank

    def part(self, output: Path) -> Path:
        """The file this rank writes: the output itself in a single-process run."""
        return output if self.world == 1 else output.with_name(f"{output.name}.part{self.rank}-of-{self.world}")

    def start(self, device: str) -> None:
        """Join the process group (gloo on CPU, NCCL on CUDA) when there are several ranks."""
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")

    def sum(self, values: Sequence[int]) -> list[int]:
        """Sum integer counters over ranks."""
        if self.world == 1:
            return list(values)
        tensor = torch.tensor(list(values), dtype=torch.float64)
        dist.all_reduce(tensor)
        return [int(v) for v in tensor.tolist()]

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.world > 1:
            dist.barrier()

    def stop(self) -> None:
        """Leave the process group."""
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def merge_parts(parts: Sequence[Path], output: Path, chunk_records: int, attributes: dict) -> Path:
    """Interleave the parts' chunks back into input order in one results file."""
    handles = [h5py.File(part, "r") for part in parts]
    try:
        writer = ResultWriter(output, attributes)
        names = list(handles[0].keys())
        column_attributes = {name: dict(handles[0][name].attrs) for name in names}
        chunk = 0
        while True:
            handle = handles[chunk % len(handles)]
            start = (chunk // len(handles)) * chunk_records
            stop = min(start + chunk_records, int(handle.attrs[ROWS_COMPLETE]))
            if start >= stop:
                break
            writer.append({name: handle[name][start:stop] for name in names}, column_attributes)
            chunk += 1
        return writer.close()
    finally:
        for handle in handles:
            handle.close()
