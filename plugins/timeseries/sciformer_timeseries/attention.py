"""Channel-independent attention: the engine's attention, run per channel with the channels folded into the batch.

A window's tokens lie channel after channel, (B, C*S, D) for C channels of S tokens. This mixer folds
them to (B*C, S, D), as transformers' PatchTST folds channels into its batch, runs the engine's
`Attention` there (the same weights and names) with each channel's diagonal block of the layer's masks
and biases, and unfolds the result: no token attends across channels. Norms and the feed-forward act
token by token, so folding there changes nothing.
"""

from __future__ import annotations

from sciformer.config import ModelConfig
from sciformer.engine.attention import Attention
from sciformer.engine.context import Embedded, LayerContext, Mixed
from sciformer.engine.masking import AttentionInputs, block_diagonal, diagonal_blocks
from sciformer.engine.parts import NormMaker
from torch import Tensor, nn


class ChannelAttention(Attention):
    """The engine's `Attention` within each channel's tokens; maps come back block-diagonal (B, H, T, T)."""

    def __init__(
        self, config: ModelConfig, channels: int, positions: nn.Module | None = None, norm: NormMaker | None = None
    ) -> None:
        super().__init__(config, positions, norm)
        self.channels = channels

    def forward(self, x: Tensor, ctx: LayerContext, attention: AttentionInputs) -> Mixed:
        """(B, C*S, D) -> (B, C*S, D), attending within each channel."""
        batch, length, dim = x.shape
        size = length // self.channels

        def fold(t: Tensor) -> Tensor:
            return t.reshape(batch * self.channels, size, *t.shape[2:])

        real = fold(ctx.padding_mask)
        inner = LayerContext(
            batch=ctx.batch,
            embedded=Embedded(fold(x), real, real, fold(ctx.embedded.positions)),
            layer=ctx.layer,
            state=ctx.state,
        )
        inside = super().forward(
            inner.embedded.hidden, inner, attention.map_tensors(lambda t: diagonal_blocks(t, batch, self.channels))
        )
        maps = None if inside.attention is None else block_diagonal(inside.attention, batch, self.channels)
        return Mixed(inside.hidden.reshape(batch, length, dim), maps)
