"""Attention within windows: the engine's attention, run per window for records longer than the model's limit.

A batch holding windowed records (`extras["slots"]`, (B, W) True for the windows in use) lays each
row out as W slots of S tokens. This mixer folds the slots into the batch axis, (B, W*S, D) ->
(used slots, S, D), runs the engine's attention there with the diagonal blocks of the layer's masks
and biases, and unfolds the result. Memory grows linearly with sequence length, and each window
sees exactly what it would see on its own. Batches without windows take the engine's path unchanged.
"""

from __future__ import annotations

from sciformer.engine.attention import Attention
from sciformer.engine.context import Embedded, LayerContext, Mixed
from sciformer.engine.masking import AttentionInputs, block_diagonal, diagonal_blocks
from torch import Tensor


class WindowedAttention(Attention):
    """The engine's `Attention` (same weights and names), applied per window when the batch has windows."""

    def forward(self, x: Tensor, ctx: LayerContext, attention: AttentionInputs) -> Mixed:
        """(B, T, D) -> (B, T, D), with block-diagonal (B, H, T, T) maps when asked for."""
        slots = ctx.batch.extras.get("slots")
        if slots is None:
            return super().forward(x, ctx, attention)
        batch, length, dim = x.shape
        windows = slots.shape[1]
        size = length // windows
        used = slots.reshape(-1)  # (B*W,)

        def fold(t: Tensor) -> Tensor:  # (B, T, ...) -> (N, S, ...) for the N used windows
            return t.reshape(batch * windows, size, *t.shape[2:])[used]

        real = fold(ctx.padding_mask)
        inner = LayerContext(batch=ctx.batch, embedded=Embedded(fold(x), real, real, fold(ctx.embedded.positions)), layer=ctx.layer, state=ctx.state)
        inside = super().forward(inner.embedded.hidden, inner, attention.map_tensors(lambda t: diagonal_blocks(t, batch, windows, used)))
        y = inside.hidden.new_zeros(batch * windows, size, dim)  # in the autocast dtype if any
        y[used] = inside.hidden
        maps = None if inside.attention is None else block_diagonal(inside.attention, batch, windows, used)
        return Mixed(y.view(batch, length, dim), maps)
