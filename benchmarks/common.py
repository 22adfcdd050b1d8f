"""Shared pieces of the benchmark scripts: timing, the machine description, result lines."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

T = TypeVar("T")


def best_seconds(run: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """The fastest of `repeats` timed runs after `warmup` untimed ones (the least disturbed measure)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> str:
    """One line describing where the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__} ({torch.get_num_threads()} threads); {device}"


def ratio_line(name: str, reference: float, ours: float, unit: str, extra: str = "") -> str:
    """`name: reference X unit, sciformer Y unit, ratio Z` (higher throughput is better)."""
    return f"{name}: reference {reference:,.1f} {unit}, sciformer {ours:,.1f} {unit}, ratio {ours / reference:.2f}x{(' ' + extra) if extra else ''}"


def median(values: list[float]) -> float:
    """The median of a list."""
    return statistics.median(values)


def alternate(runs: dict[str, Callable[[], T]], repeats: int) -> tuple[dict[str, T], dict[str, float]]:
    """Each run's output (from one untimed warm-up) and its best seconds over `repeats` rounds taken in turn."""
    outputs = {name: run() for name, run in runs.items()}
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return outputs, best


def min_cosine(a: Tensor, b: Tensor) -> float:
    """The smallest cosine between matching rows of a and b (each row flattened)."""
    return float(torch.nn.functional.cosine_similarity(a.flatten(1).double(), b.flatten(1).double(), dim=1).min())
