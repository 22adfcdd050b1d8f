"""Shared pieces of the benchmark scripts: timing, the machine description, result lines."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from torch import Tensor, nn

T = TypeVar("T")
M = TypeVar("M", bound=nn.Module)
PERTURBATION = 0.02  # on every tensor of a random reference, the scale of transformers' own initialisation
BF16_VARIANTS = ("sciformer autocast", "sciformer cast + autocast")


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


def start(parser: argparse.ArgumentParser, repeats: int | None = 3) -> argparse.Namespace:
    """Add `--repeats` (None: each case's own count) and `--threads`, parse the command line, set the threads and print the machine line."""
    default = " (default: per case)" if repeats is None else ""
    parser.add_argument("--repeats", type=int, default=repeats, help=f"timed rounds, the sides alternating; the best of each is kept{default}")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice); 1 is steadier on a shared machine")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine())
    return args


def batch_arguments(description: str, batch: int, unit: str, quick_batch: int) -> argparse.Namespace:
    """The command line of a batched benchmark, parsed by `start`: `--batch` (`unit` per batch, default `batch`),
    `--batches` per timed measurement and `--quick`, a smoke run of one round at batch `quick_batch`."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=batch, help=f"{unit} per batch")
    parser.add_argument("--batches", type=int, default=1, help="batches per timed measurement")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: batch {quick_batch}, one round")
    args = start(parser)
    if args.quick:
        args.batch, args.repeats = quick_batch, 1
    return args


def perturbed(model: M) -> M:
    """`model` with every tensor moved by PERTURBATION-scaled noise (seed 1), so no bias or norm stays at its default."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(PERTURBATION * torch.randn(parameter.shape, generator=generator))
    return model


def random_reference(build: Callable[[], M], folder: Path) -> M:
    """The reference model `build()` makes after seeding torch with 0, in eval mode and `perturbed`, saved to
    `folder` with its `save_pretrained` (for a sciformer importer to read)."""
    torch.manual_seed(0)
    model = perturbed(build().eval())
    model.save_pretrained(folder)
    return model


def repeated(step: Callable[[], T], batches: int, autocast: bool) -> Callable[[], T]:
    """A run of `batches` calls of `step` in inference mode (under bfloat16 autocast when asked) returning the last output."""

    def run() -> T:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            for _ in range(batches):
                output = step()
        return output

    return run


def precision_runs(reference: Callable[[], T], ours: Callable[[nn.Module], T], model: nn.Module, cast: nn.Module, batches: int) -> dict[str, Callable[[], T]]:
    """The five contenders of a float32 / bfloat16 comparison: the reference and sciformer in float32 and
    under autocast, and sciformer's bfloat16 copy `cast` under autocast (the BF16_VARIANTS are the last two)."""
    return {
        "reference float32": repeated(reference, batches, False),
        "sciformer float32": repeated(lambda: ours(model), batches, False),
        "reference autocast": repeated(reference, batches, True),
        "sciformer autocast": repeated(lambda: ours(model), batches, True),
        "sciformer cast + autocast": repeated(lambda: ours(cast), batches, True),
    }


def fastest_bf16(rate: dict[str, float]) -> str:
    """The faster of BF16_VARIANTS by `rate`."""
    return max(BF16_VARIANTS, key=rate.__getitem__)


def bf16_line(label: str, rate: dict[str, float], unit: str, cosines: str, digits: int) -> str:
    """The bfloat16 result line: the faster of BF16_VARIANTS against the float32 reference (target 2.5x), with `cosines`
    to it, both variants' rates and the reference under autocast for context (rates shown with `digits` decimals)."""
    fastest = fastest_bf16(rate)
    variants = ", ".join(f"{name.removeprefix('sciformer ')} {rate[name]:.{digits}f}" for name in BF16_VARIANTS)
    reference_bf16 = rate["reference autocast"]
    context = f"reference under autocast {reference_bf16:.{digits}f} {unit} ({rate[fastest] / reference_bf16:.2f}x)"
    name = f"{label} bfloat16 ({fastest.removeprefix('sciformer ')}) vs float32 reference"
    return ratio_line(name, rate["reference float32"], rate[fastest], unit, f"(target 2.5x); {cosines}; sciformer {variants} {unit}; {context}")
