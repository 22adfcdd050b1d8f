"""Patch embedding of windows: RevIN, patches from the end of each channel, a linear map, positions.

As transformers' PatchTST (`PatchTSTScaler`, `PatchTSTPatchify`, `PatchTSTEmbedding`,
`PatchTSTPositionalEncoding`): each channel's normalised context is cut into patches of `patch_length`
steps, `patch_stride` apart, ending at its last step; a Linear(patch_length, D), shared by the channels or
one per channel, embeds each patch; the position table (`learned`, or PatchTST's `sinusoidal` table,
centred and scaled to std 0.1) is added, and with `cls_token` a CLS token (plus position 0) leads each
channel. Tokens come out channel after channel, (B, C * tokens_per_channel, D); the instance statistics
travel to the head in `Embedded.layout`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from torch import Tensor, nn

from .options import SeriesOptions
from .revin import instance_statistics


class SeriesLayout(NamedTuple):
    """What the head needs to undo the instance normalisation: loc and scale, each (B, 1, C), float32."""

    loc: Tensor
    scale: Tensor


def patchtst_sincos(positions: int, dim: int) -> Tensor:
    """PatchTST's sin-cos table (positions, dim): sin on even, cos on odd features, then centred and scaled to std 0.1."""
    table = torch.zeros(positions, dim)
    position = torch.arange(0, positions).unsqueeze(1)
    frequencies = torch.exp(torch.arange(0, dim, 2) * -(math.log(10000.0) / dim))
    table[:, 0::2] = torch.sin(position * frequencies)
    table[:, 1::2] = torch.cos(position * frequencies)
    table = table - table.mean()
    return table / (table.std() * 10)


def patches(values: Tensor, options: SeriesOptions) -> Tensor:
    """(B, L, C) -> (B, C, N, P): patches of each channel, taken from the end of the context."""
    return values[:, options.sequence_start :, :].unfold(1, options.patch_length, options.patch_stride).transpose(1, 2)


class PatchEmbedder(nn.Module):
    """TokenBatch with `features` (B, L, C) in the series' units -> Embedded hidden (B, C*S, D); every token is real."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.options = options = SeriesOptions.from_config(config)
        if options.share_embedding:
            self.projection = nn.Linear(options.patch_length, config.dim)
        else:
            self.projections = nn.ModuleList(nn.Linear(options.patch_length, config.dim) for _ in range(options.num_channels))
        self.position_enc: Tensor | None
        if config.position == "learned":
            self.position_enc = nn.Parameter(nn.init.trunc_normal_(torch.empty(options.tokens_per_channel, config.dim), std=0.02))
        elif config.position == "sinusoidal":
            self.register_buffer("position_enc", patchtst_sincos(options.tokens_per_channel, config.dim))
        else:
            self.position_enc = None
        self.cls_token = nn.Parameter(nn.init.normal_(torch.empty(1, 1, 1, config.dim), std=0.02)) if options.cls_token else None
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, batch: TokenBatch) -> Embedded:
        """Normalise, patch and embed the windows of a batch."""
        values, observed = batch.features, batch.extras["observed"]
        expected = (self.options.context_length, self.options.num_channels)
        if values is None or values.dim() != 3 or tuple(values.shape[1:]) != expected:
            raise ValueError(
                f"PatchEmbedder needs features (B, {expected[0]}, {expected[1]}), "
                f"got {None if values is None else tuple(values.shape)}"
            )
        loc, scale = instance_statistics(values, observed, self.options.scaling, self.options.scale_floor)
        tokens = self._embed(patches((values.float() - loc) / scale, self.options))  # (B, C, N, D)
        if self.position_enc is not None:
            tokens = tokens + self.position_enc[-self.options.num_patches :]
        if self.cls_token is not None:
            cls = self.cls_token if self.position_enc is None else self.cls_token + self.position_enc[:1]
            tokens = torch.cat([cls.expand(tokens.shape[0], tokens.shape[1], 1, -1).to(tokens.dtype), tokens], dim=2)
        hidden = self.dropout(tokens.flatten(1, 2))  # (B, C*S, D)
        mask = batch.padding_mask
        pool_mask = mask & (batch.positions != 0) if self.cls_token is not None else mask
        return Embedded(hidden, mask, pool_mask, batch.positions, layout=SeriesLayout(loc, scale))

    def _embed(self, patched: Tensor) -> Tensor:
        """(B, C, N, P) -> (B, C, N, D), with the shared projection or each channel's own."""
        if self.options.share_embedding:
            return self.projection(patched.to(self.projection.weight.dtype))
        return torch.stack([layer(patched[:, c].to(layer.weight.dtype)) for c, layer in enumerate(self.projections)], dim=1)
