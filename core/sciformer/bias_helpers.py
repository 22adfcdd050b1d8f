"""Tensors that attention biases are made of, free of the engine: ALiBi's head slopes and token distances."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def alibi_slopes(heads: int) -> Tensor:
    """(H,) ALiBi's head slopes (Press et al. 2022): a geometric sequence from 2^(-8/n); for head counts
    that are not a power of two, the closest power's slopes plus every other slope of the next power."""
    closest = 2 ** math.floor(math.log2(heads))
    base = [2 ** (-8 * (i + 1) / closest) for i in range(closest)]
    extra = [2 ** (-8 * (i + 1) / (2 * closest)) for i in range(2 * closest)][0::2][: heads - closest]
    return torch.tensor(base + extra)


def relative_distances(positions: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """(B, T) token positions -> (B, 1, T, T) distances |i - j| in `dtype`, which broadcast against
    per-head factors of shape (1, H, 1, 1) to a (B, H, T, T) bias."""
    positions = positions.to(dtype)
    return (positions[:, None, :, None] - positions[:, None, None, :]).abs()
