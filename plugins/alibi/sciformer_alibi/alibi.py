"""Attention with linear biases (Press et al. 2022): each head penalises distance with its own slope."""

from __future__ import annotations

from sciformer.bias_helpers import alibi_slopes, relative_distances
from sciformer.engine.bias import AttentionBias, AttentionTerms
from sciformer.engine.context import LayerContext


class AlibiBias(AttentionBias):
    """Logit bias `-slope_h * |i - j|` from token positions, the same in every layer (computed once per pass)."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(heads), persistent=False)

    def forward(self, ctx: LayerContext) -> AttentionTerms:
        """(B, H, T, T) bias, cached in ctx.state for the other layers."""
        if self not in ctx.state:
            distance = relative_distances(ctx.embedded.positions, self.slopes.dtype)  # (B, 1, T, T)
            ctx.state[self] = -self.slopes[None, :, None, None] * distance
        return AttentionTerms(logits=ctx.state[self])
