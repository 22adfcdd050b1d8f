"""SciformerModel: embedder -> blocks -> final norm -> head, with plugin attention biases per layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.bias import AttentionBias, combine_terms, resolve_mask
from sciformer.engine.blocks import Block
from sciformer.engine.context import Embedded, LayerContext
from sciformer.engine.heads import Head, pool


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
        mixers: list[nn.Module],
        biases: list[AttentionBias],
        head: Head | None,
    ) -> None:
        super().__init__()
        self.config = config
        self.embedder = embedder
        self.blocks = nn.ModuleList(Block(config, mixer) for mixer in mixers)
        self.biases = nn.ModuleList(biases)
        self.final_norm = nn.LayerNorm(config.dim, eps=config.norm_eps) if config.final_norm else nn.Identity()
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
        shared_mask = None if self.biases else resolve_mask(embedded.padding_mask, self.config.causal, None)
        for layer, block in enumerate(self.blocks):
            ctx = LayerContext(batch=batch, embedded=embedded, layer=layer, state=state, need_weights=need_weights)
            if shared_mask is None:
                terms = [t for bias in self.biases if (t := bias(ctx)) is not None]
                combined = combine_terms(terms, embedded.padding_mask, self.config.causal)
                ctx.attention_mask, ctx.is_causal = resolve_mask(embedded.padding_mask, self.config.causal, combined.logits)
                ctx.mixture, ctx.attention_weight = combined.mixture, combined.attention_weight
            else:
                ctx.attention_mask, ctx.is_causal = shared_mask
            x = block(x, ctx)
            attentions.extend(ctx.attention_maps)
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
