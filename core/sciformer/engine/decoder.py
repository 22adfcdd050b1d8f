"""The decoder of an encoder-decoder model: causal self-attention, cross-attention over the encoder's
output and a feed-forward per block, on tokens that the domain's decoder embedder makes.

A domain that declares one (`Domain.decoder_embedder`) gets it with `model.decoder_depth` blocks of the
model's width, heads, norms and feed-forward; plugins' attention biases act on the encoder only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from sciformer.config import NORMS
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded, LayerContext
from sciformer.engine.cross_attention import CrossAttention, memory_inputs
from sciformer.engine.masking import AttentionInputs, resolve_attention


class DecoderBlock(nn.Module):
    """Self-attention (causal), cross-attention over a memory and a feed-forward, each with a residual.

    `order` is `ModelConfig.norm`: "pre" normalises each branch's input (`x + f(norm(x))`), "post"
    each sum (`norm(x + f(x))`, BART's and the Transformer paper's order), "res-post" each branch's
    output. `norm1`, `norm_cross` and `norm2` belong to the three branches in turn.
    """

    def __init__(
        self, mixer: nn.Module, cross: CrossAttention, mlp: nn.Module, norms: tuple[nn.Module, nn.Module, nn.Module], *, order: str, dropout: float
    ) -> None:
        super().__init__()
        if order not in NORMS:
            raise ValueError(f"block order must be one of {list(NORMS)}, got {order!r}")
        self.order = order
        self.mixer, self.cross, self.mlp = mixer, cross, mlp
        self.norm1, self.norm_cross, self.norm2 = norms
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, ctx: LayerContext, attention: AttentionInputs, memory: Tensor, cross: AttentionInputs) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(B, T, D) -> (B, T, D), with the self- and cross-attention maps when asked for."""
        mixed = self._branch(x, self.norm1, lambda h: self.mixer(h, ctx, attention))
        attended = self._branch(mixed[0], self.norm_cross, lambda h: self.cross(h, memory, cross))
        fed, _ = self._branch(attended[0], self.norm2, lambda h: (self.mlp(h), None))
        return fed, mixed[1], attended[1]

    def _branch(self, x: Tensor, norm: nn.Module, branch: Callable[[Tensor], tuple[Tensor, Tensor | None]]) -> tuple[Tensor, Tensor | None]:
        """One residual branch in the block's norm order; returns its output and the branch's maps."""
        if self.order == "pre":
            hidden, maps = branch(norm(x))
            return x + self.dropout(hidden), maps
        hidden, maps = branch(x)
        if self.order == "post":
            return norm(x + self.dropout(hidden)), maps
        return x + self.dropout(norm(hidden)), maps


@dataclass
class Decoded:
    """The decoder's output: `hidden` (B, T, D) after its final norm, its tokens' `embedded`, and when
    asked for one self-attention map (B, H, T, T) and one cross-attention map (B, H, T, Tk) per block."""

    hidden: Tensor
    embedded: Embedded
    attentions: list[Tensor] | None = None
    cross_attentions: list[Tensor] | None = None


class Decoder(nn.Module):
    """The domain's decoder embedder, decoder blocks and a final norm."""

    def __init__(self, embedder: nn.Module, blocks: list[DecoderBlock], final_norm: nn.Module) -> None:
        super().__init__()
        self.embedder = embedder
        self.blocks = nn.ModuleList(blocks)
        self.final_norm = final_norm

    def forward(self, batch: TokenBatch, memory: Tensor, encoded: Embedded, need_weights: bool = False) -> Decoded:
        """Decode `batch`'s decoder tokens attending to `memory` (B, Tk, D), the encoder's output for its
        tokens `encoded` (whose padding mask marks the real ones; the decoder embedder sees it too)."""
        embedded = self.embedder(batch, encoded)
        x = embedded.hidden.to(memory.dtype)
        attention = resolve_attention(embedded.padding_mask, True, [], need_weights)
        cross = memory_inputs(encoded.padding_mask, need_weights)
        state: dict = {}
        maps: list[Tensor] = []
        cross_maps: list[Tensor] = []
        for layer, block in enumerate(self.blocks):
            x, self_map, cross_map = block(x, LayerContext(batch=batch, embedded=embedded, layer=layer, state=state), attention, memory, cross)
            if need_weights:
                maps.append(self_map)
                cross_maps.append(cross_map)
        return Decoded(self.final_norm(x), embedded, maps if need_weights else None, cross_maps if need_weights else None)
