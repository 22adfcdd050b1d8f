"""Attention with linear biases (Press et al. 2022): each head penalises distance with its own slope."""

from __future__ import annotations

import math

import torch
from sciformer.engine.bias import AttentionBias, AttentionTerms
from sciformer.engine.context import LayerContext


def alibi_slopes(heads: int) -> torch.Tensor:
    """The paper's head slopes: a geometric sequence from 2^(-8/n); for head counts that are not a
    power of two, the closest power's slopes plus every other slope of the next power."""
    closest = 2 ** math.floor(math.log2(heads))
    base = [2 ** (-8 * (i + 1) / closest) for i in range(closest)]
    extra = [2 ** (-8 * (i + 1) / (2 * closest)) for i in range(2 * closest)][0::2][: heads - closest]
    return torch.tensor(base + extra)


class AlibiBias(AttentionBias):
    """Logit bias `-slope_h * |i - j|` from token positions, the same in every layer (computed once per pass)."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(heads), persistent=False)

    def forward(self, ctx: LayerContext) -> AttentionTerms:
        """(B, H, T, T) bias, cached in ctx.state for the other layers."""
        if self not in ctx.state:
            positions = ctx.embedded.positions.to(self.slopes.dtype)
            distance = (positions[:, None, :, None] - positions[:, None, None, :]).abs()  # (B, 1, T, T)
            ctx.state[self] = -self.slopes[None, :, None, None] * distance
        return AttentionTerms(logits=ctx.state[self])
