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
from sciformer.engine.masking import AttentionInputs
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
        inside = super().forward(inner.embedded.hidden, inner, attention.map_tensors(lambda t: _diagonal_blocks(t, windows, used)))
        y = inside.hidden.new_zeros(batch * windows, size, dim)  # in the autocast dtype if any
        y[used] = inside.hidden
        maps = None if inside.attention is None else _block_diagonal(inside.attention, batch, windows, used)
        return Mixed(y.view(batch, length, dim), maps)


def _diagonal_blocks(t: Tensor | float | None, windows: int, used: Tensor) -> Tensor | float | None:
    """A (B|1, H|1, T|1, T) mask or bias -> (N, H|1, S|1, S): each used window's block on the diagonal."""
    if not isinstance(t, Tensor):
        return t
    if t.dim() < 4:
        t = t.reshape(*([1] * (4 - t.dim())), *t.shape)
    batch = used.shape[0] // windows
    t = t.expand(batch, *t.shape[1:])
    heads, queries, keys = t.shape[1:]
    size = keys // windows
    if queries == 1:
        blocks = t.reshape(batch, heads, 1, windows, size).permute(0, 3, 1, 2, 4)  # (B, W, H, 1, S)
    else:
        blocks = t.reshape(batch, heads, windows, size, windows, size).diagonal(dim1=2, dim2=4)  # (B, H, S, S, W)
        blocks = blocks.permute(0, 4, 1, 2, 3)  # (B, W, H, S, S)
    return blocks.reshape(batch * windows, *blocks.shape[2:])[used]


def _block_diagonal(maps: Tensor, batch: int, windows: int, used: Tensor) -> Tensor:
    """(N, H, S, S) per-window attention maps -> (B, H, T, T), zero between windows."""
    heads, size = maps.shape[1], maps.shape[-1]
    full = maps.new_zeros(batch * windows, heads, size, size)
    full[used] = maps
    full = full.view(batch, windows, heads, size, size)
    out = maps.new_zeros(batch, heads, windows * size, windows * size)
    for window in range(windows):
        span = slice(window * size, (window + 1) * size)
        out[:, :, span, span] = full[:, window]
    return out
