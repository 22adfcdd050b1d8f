"""SciformerModel: embedder -> stages of blocks (with the domain's downsampling between them) -> final norm
-> (a decoder attending to that output, when the model has one) -> head."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.bias import AttentionBias
from sciformer.engine.blocks import Block
from sciformer.engine.context import Embedded, LayerContext
from sciformer.engine.decoder import Decoded, Decoder
from sciformer.engine.heads import Head, pool
from sciformer.engine.masking import resolve_attention


@dataclass
class ModelOutput:
    """What one forward pass returns.

    `hidden` (B, T, D) after the final norm; `pooled` (B, D) the configured pooling of `hidden`;
    `embedded` the tokens of the last stage (the embedder's output for single-stage models);
    `prediction` the head's output (None without a head); `hidden_states` the embedder output and
    each block's output when asked for; `attentions` one (B, H, T, T) map per attention layer when asked.
    In a model with stages, T and D are those of each block's stage. In an encoder-decoder model,
    `hidden`, `pooled` and `embedded` are the encoder's, `decoded` the decoder's output, and the head
    reads the decoder's.
    """

    hidden: Tensor
    pooled: Tensor
    embedded: Embedded
    prediction: Tensor | None = None
    hidden_states: list[Tensor] | None = None
    attentions: list[Tensor] | None = None
    decoded: Decoded | None = None

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
        downsamples: dict[str, nn.Module] | None = None,
        decoder: Decoder | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.embedder = embedder
        self.blocks = nn.ModuleList(blocks)
        self.biases = nn.ModuleList(biases)
        self.final_norm = final_norm
        self.head = head
        self.downsamples = nn.ModuleDict(downsamples or {})  # "s": the step after stage s (Domain.downsample)
        ends = [sum(depth for _, _, depth in config.stages[: stage + 1]) for stage in range(len(config.stages))]
        self.downsample_after = {ends[int(stage)] - 1: stage for stage in self.downsamples}  # last block of a stage -> its step
        self.decoder = decoder

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype of the blocks' weights: float32, or bfloat16 for a model cast with `.to(torch.bfloat16)`."""
        return next(self.blocks.parameters()).dtype

    def forward(self, batch: TokenBatch, *, need_weights: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        """Run the model on a batch; `need_weights` takes the reference attention path and returns maps."""
        encoded = self.encode(batch, need_weights=need_weights, output_hidden_states=output_hidden_states)
        if self.decoder is not None:
            return self.decode(batch, encoded, need_weights=need_weights)
        if self.head is None:
            return encoded
        return replace(encoded, prediction=self.head(encoded.hidden, encoded.embedded, batch))

    def decode(self, batch: TokenBatch, encoded: ModelOutput, *, need_weights: bool = False) -> ModelOutput:
        """The decoder over `batch`'s decoder tokens, attending to `encoded` (this model's `encode` output),
        and the head on its output: a step of autoregressive decoding reuses one encoding."""
        if self.decoder is None:
            raise ValueError("this model has no decoder (model.decoder_depth is 0)")
        decoded = self.decoder(batch, encoded.hidden, encoded.embedded, need_weights)
        prediction = self.head(decoded.hidden, decoded.embedded, batch) if self.head is not None else None
        return replace(encoded, decoded=decoded, prediction=prediction)

    def encode(self, batch: TokenBatch, *, need_weights: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        """The embedder, blocks and final norm (no head): the model's representation of the batch."""
        embedded = self.embedder(batch)
        x = embedded.hidden.to(self.compute_dtype)  # a model cast to bfloat16 runs its blocks in bfloat16
        state: dict = {}
        hidden_states = [x] if output_hidden_states else None
        attentions: list[Tensor] = []
        causal = self.config.causal
        shared = None if self.biases else resolve_attention(embedded.padding_mask, causal, [], need_weights)
        for layer, block in enumerate(self.blocks):
            ctx = LayerContext(batch=batch, embedded=embedded, layer=layer, state=state)
            terms = [t for bias in self.biases if (t := bias(ctx)) is not None]
            attention = shared or resolve_attention(embedded.padding_mask, causal, terms, need_weights)
            x, maps = block(x, ctx, attention)
            if maps is not None:
                attentions.append(maps)
            if hidden_states is not None:
                hidden_states.append(x)
            if layer in self.downsample_after:
                embedded = self.downsamples[self.downsample_after[layer]](embedded._replace(hidden=x))
                x = embedded.hidden
                shared = None if self.biases else resolve_attention(embedded.padding_mask, causal, [], need_weights)
        hidden = self.final_norm(x)
        return ModelOutput(
            hidden=hidden,
            pooled=pool(hidden, embedded, self.config.pooling),
            embedded=embedded,
            hidden_states=hidden_states,
            attentions=attentions if need_weights else None,
        )
