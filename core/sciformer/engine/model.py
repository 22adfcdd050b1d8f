"""SciformerModel: embedder -> blocks -> final norm -> head, with plugin attention biases per layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.bias import AttentionBias
from sciformer.engine.blocks import Block
from sciformer.engine.context import Embedded, LayerContext
from sciformer.engine.heads import Head, pool
from sciformer.engine.masking import resolve_attention


@dataclass
class ModelOutput:
    """What one forward pass returns.

    `hidden` (B, T, D) after the final norm; `pooled` (B, D) the configured pooling of `hidden`;
    `prediction` the head's output (None without a head); `hidden_states` the embedder output and
    each block's output when asked for; `attentions` one (B, H, T, T) map per attention layer when asked.
    """

    hidden: Tensor
    pooled: Tensor
    embedded: Embedded
    prediction: Tensor | None = None
    hidden_states: list[Tensor] | None = None
    attentions: list[Tensor] | None = None

    @property
    def padding_mask(self) -> Tensor:
        """(B, T) True for real tokens."""
        return self.embedded.padding_mask


class SciformerModel(nn.Module):
    """The transformer every domain runs on; components come from the plugins' hooks (see build.py)."""

    def __init__(
        self,
        config: ModelConfig,
        embedder: nn.Module,
        blocks: list[Block],
        biases: list[AttentionBias],
        head: Head | None,
        final_norm: nn.Module,
    ) -> None:
        super().__init__()
        self.config = config
        self.embedder = embedder
        self.blocks = nn.ModuleList(blocks)
        self.biases = nn.ModuleList(biases)
        self.final_norm = final_norm
        self.head = head

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype of the blocks' weights: float32, or bfloat16 for a model cast with `.to(torch.bfloat16)`."""
        return next(self.blocks.parameters()).dtype

    def forward(self, batch: TokenBatch, *, need_weights: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        """Run the model on a batch; `need_weights` takes the reference attention path and returns maps."""
        embedded = self.embedder(batch)
        x = embedded.hidden.to(self.compute_dtype)  # a model cast to bfloat16 runs its blocks in bfloat16
        state: dict = {}
        hidden_states = [x] if output_hidden_states else None
        attentions: list[Tensor] = []
        causal, padding = self.config.causal, embedded.padding_mask
        shared = None if self.biases else resolve_attention(padding, causal, [], need_weights)
        for layer, block in enumerate(self.blocks):
            ctx = LayerContext(batch=batch, embedded=embedded, layer=layer, state=state)
            attention = shared or resolve_attention(padding, causal, [t for bias in self.biases if (t := bias(ctx)) is not None], need_weights)
            x, maps = block(x, ctx, attention)
            if maps is not None:
                attentions.append(maps)
            if hidden_states is not None:
                hidden_states.append(x)
        hidden = self.final_norm(x)
        prediction = self.head(hidden, embedded, batch) if self.head is not None else None
        return ModelOutput(
            hidden=hidden,
            pooled=pool(hidden, embedded, self.config.pooling),
            embedded=embedded,
            prediction=prediction,
            hidden_states=hidden_states,
            attentions=attentions if need_weights else None,
        )
