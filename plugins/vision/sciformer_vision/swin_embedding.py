"""The Swin embedder: strided-convolution patches and a LayerNorm, no [CLS] and no absolute positions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.errors import ConfigError
from torch import nn

from .geometry import Geometry
from .token_grid import TokenGrid
from .tokenizer import GRID

PATCH_NORM_EPS = 1e-5  # transformers' SwinEmbeddings.norm uses LayerNorm's default, not layer_norm_eps


class SwinEmbedder(nn.Module):
    """TokenBatch with `features` (B, C, H, W) -> patch vectors (B, GH * GW, D) and their `TokenGrid` layout.

    Images are zero-padded at the bottom and right to whole patches, as transformers' `SwinPatchEmbeddings`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.position != "none":
            raise ConfigError(f"a Swin (domain_options.window_size) uses relative positions only; model.position must be 'none', got {config.position!r}")
        if config.pooling != "mean":
            raise ConfigError(f"a Swin has no [CLS] token; model.pooling must be 'mean', got {config.pooling!r}")
        self.geometry = Geometry.from_config(config)
        patch = self.geometry.patch_size
        self.patch_embedding = nn.Conv2d(self.geometry.channels, config.dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(config.dim, eps=PATCH_NORM_EPS)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, batch: TokenBatch) -> Embedded:
        """Embed the padded images; each record's own grid comes from `extras["grid"]`."""
        if batch.features is None or batch.features.dim() != 4:
            raise ValueError("SwinEmbedder needs batch.features of shape (B, C, H, W)")
        patch = self.geometry.patch_size
        height, width = batch.features.shape[-2:]
        features = F.pad(batch.features.to(self.patch_embedding.weight.dtype), (0, -width % patch, 0, -height % patch))
        patches = self.patch_embedding(features)  # (B, D, GH, GW)
        size, _, rows, cols = patches.shape
        hidden = self.norm(patches.flatten(2).transpose(1, 2))  # (B, GH * GW, D)
        grids = batch.extras.get(GRID)
        if grids is None:
            grids = torch.tensor([[rows, cols]], device=hidden.device).expand(size, 2)
        layout = TokenGrid((rows, cols), grids.to(hidden.device))
        mask = layout.padding_mask()
        return Embedded(self.dropout(hidden), mask, mask, layout.positions(), layout)
