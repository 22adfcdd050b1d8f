"""The ViT embedder: strided-convolution patches, a [CLS] token and learned absolute positions.

Positions are one learned vector per patch of the training grid plus one for [CLS]. An image whose
grid differs is given the table resampled bicubically to its grid, as transformers'
`interpolate_pos_encoding` (no antialiasing) and timm's `resample_abs_pos_embed` (antialiased;
`domain_options.position_antialias`) do, so one model scores several resolutions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.errors import ConfigError
from torch import Tensor, nn

from .geometry import Geometry
from .tokenizer import GRID, token_mask


def resample_positions(table: Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int], antialias: bool = False) -> Tensor:
    """Patch position vectors (h * w, D) of `old_grid` resampled bicubically to `new_grid` (h' * w', D)."""
    if tuple(old_grid) == tuple(new_grid):
        return table
    dim = table.shape[-1]
    grid = table.reshape(1, old_grid[0], old_grid[1], dim).permute(0, 3, 1, 2)  # (1, D, h, w)
    grid = F.interpolate(grid.float(), size=tuple(new_grid), mode="bicubic", align_corners=False, antialias=antialias)
    return grid.permute(0, 2, 3, 1).reshape(-1, dim).to(table.dtype)  # (h' * w', D)


class PatchEmbedder(nn.Module):
    """TokenBatch with `features` (B, C, H, W) -> [CLS] + patch vectors (B, 1 + GH * GW, D) with positions."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.position not in ("learned", "none"):
            raise ConfigError(f"the vision embedder adds learned absolute positions; model.position must be 'learned' or 'none', got {config.position!r}")
        self.geometry = Geometry.from_config(config)
        patch = self.geometry.patch_size
        self.patch_embedding = nn.Conv2d(self.geometry.channels, config.dim, kernel_size=patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.dim))
        nn.init.normal_(self.cls_token, std=0.02)
        if config.position == "learned":
            self.position_embedding = nn.Parameter(torch.zeros(1, 1 + self.geometry.num_patches, config.dim))
            nn.init.trunc_normal_(self.position_embedding, std=0.02)
        else:
            self.register_parameter("position_embedding", None)
        self.antialias = bool(config.option("position_antialias", False))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, batch: TokenBatch) -> Embedded:
        """Embed the padded images; the padding mask comes from each record's grid in `extras["grid"]`."""
        if batch.features is None or batch.features.dim() != 4:
            raise ValueError("PatchEmbedder needs batch.features of shape (B, C, H, W)")
        weight = self.patch_embedding.weight
        patches = self.patch_embedding(batch.features.to(weight.dtype))  # (B, D, GH, GW)
        size, _dim, rows, cols = patches.shape
        patches = patches.flatten(2).transpose(1, 2)  # (B, GH * GW, D)
        grids = batch.extras.get(GRID)
        if grids is None:
            grids = torch.tensor([[rows, cols]], device=patches.device).expand(size, 2)
        hidden = torch.cat([self.cls_token.to(patches.dtype).expand(size, -1, -1), patches], dim=1)  # (B, T, D)
        if self.position_embedding is not None:
            hidden = hidden + self.positions(grids, (rows, cols)).to(hidden.dtype)
        padding_mask = token_mask(grids, (rows, cols))
        pool_mask = padding_mask.clone()
        pool_mask[:, 0] = False  # mean pooling averages patches, not [CLS]
        positions = torch.arange(hidden.shape[1], device=hidden.device).expand(size, -1)
        return Embedded(self.dropout(hidden), padding_mask, pool_mask, positions)

    def positions(self, grids: Tensor, batch_grid: tuple[int, int]) -> Tensor:
        """Position vectors (B or 1, 1 + GH * GW, D): each record's table resampled to its own grid."""
        table = self.position_embedding[0]  # (1 + N, D)
        cls, patches = table[:1], table[1:]
        distinct = {tuple(g) for g in grids.tolist()}
        if distinct == {tuple(batch_grid)}:
            return torch.cat([cls, resample_positions(patches, self.geometry.grid, batch_grid, self.antialias)])[None]
        rows, cols = batch_grid
        canvas = table.new_zeros(grids.shape[0], rows, cols, table.shape[-1])  # (B, GH, GW, D)
        for grid in distinct:
            chosen = (grids[:, 0] == grid[0]) & (grids[:, 1] == grid[1])
            own = resample_positions(patches, self.geometry.grid, grid, self.antialias).reshape(grid[0], grid[1], -1)
            canvas[chosen.to(canvas.device), : grid[0], : grid[1]] = own
        return torch.cat([cls.expand(grids.shape[0], 1, -1), canvas.flatten(1, 2)], dim=1)
