"""The machine's dense matrix-product rate in float32 and bfloat16: the ceiling every model is measured against.

    .venv/bin/python benchmarks/matmul_ceiling.py
"""

from __future__ import annotations

import torch
from common import best_seconds, machine


def matmul_rate(dtype: torch.dtype, size: int = 2048) -> float:
    """GFLOP/s of a square (size x size) @ (size x size) product."""
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    seconds = best_seconds(lambda: a @ b, repeats=5)
    return 2 * size**3 / seconds / 1e9


def linear_rate(dtype: torch.dtype, tokens: int = 4096, features: int = 480) -> float:
    """GFLOP/s of a transformer-shaped linear layer (tokens x D) -> (tokens x 4D), as models run it."""
    layer = torch.nn.Linear(features, 4 * features).to(dtype)
    x = torch.randn(tokens, features).to(dtype)
    with torch.inference_mode():
        seconds = best_seconds(lambda: layer(x), repeats=5)
    return 2 * tokens * features * 4 * features / seconds / 1e9


def main() -> None:
    """Print the square and model-shaped rates for both precisions."""
    print(machine())
    for dtype in (torch.float32, torch.bfloat16):
        print(f"ceiling {str(dtype).replace('torch.', '')}: square matmul {matmul_rate(dtype):,.0f} GFLOP/s, linear (4096x480 -> 1920) {linear_rate(dtype):,.0f} GFLOP/s")


if __name__ == "__main__":
    main()
