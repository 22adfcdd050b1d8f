"""Patch embedding of (C, H, W) fields: pad to a multiple of the patch, strided convolution, learned positions.

With `time_features`, two channels holding sin and cos of the input's UTC hour of day are appended
first (from `batch.extras["hour"]`), so the model can tell a warming morning from a cooling evening.
With `input_noise`, training inputs get Gaussian noise (the target does not); a residual head adds its
change to the noisy input, so the model learns to correct small errors in its input, as it must when its
own forecasts are fed back in a rollout.

As FourCastNet's `PatchEmbed` and `pos_embed`: `proj` is Conv2d(C, D, kernel=patch, stride=patch) and
`pos_embed` (1, h*w, D) one learned vector per patch, tokens in row-major (lat, lon) patch order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from torch import Tensor, nn

from .options import WeatherOptions

NOISY_INPUT = "noisy_input"  # batch.extras key of the noised training input (B, C, H, W)


def time_channels(hours: Tensor, shape: tuple[int, int]) -> Tensor:
    """(B,) UTC hours of day -> (B, 2, H, W) constant maps of sin and cos of the daily phase."""
    phase = 2 * math.pi * hours.float() / 24.0
    maps = torch.stack([phase.sin(), phase.cos()], dim=1)  # (B, 2)
    return maps[:, :, None, None].expand(-1, -1, *shape)


def pad_fields(fields: Tensor, options: WeatherOptions) -> Tensor:
    """(B, C, H, W) -> (B, C, H', W'): pad bottom and right to a multiple of the patch size."""
    rows, cols = options.padding
    if not rows and not cols:
        return fields
    if options.pad_mode == "constant":
        return F.pad(fields, (0, cols, 0, rows))
    return F.pad(fields, (0, cols, 0, rows), mode=options.pad_mode)


class PatchEmbedder(nn.Module):
    """TokenBatch with `features` (B, C, H, W) -> Embedded hidden (B, h*w, D); every token is real."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.options = WeatherOptions.from_config(config)
        channels = self.options.input_channels
        self.proj = nn.Conv2d(channels, config.dim, kernel_size=self.options.patch, stride=self.options.patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.options.num_tokens, config.dim)) if config.position == "learned" else None
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, batch: TokenBatch) -> Embedded:
        """Embed the fields of a batch."""
        fields = batch.features
        expected = (len(self.options.channels), *self.options.grid)
        if fields is None or fields.dim() != 4 or tuple(fields.shape[1:]) != expected:
            got = None if fields is None else tuple(fields.shape)
            raise ValueError(f"PatchEmbedder needs features (B, {expected[0]}, {expected[1]}, {expected[2]}), got {got}")
        if self.training and self.options.input_noise > 0:
            fields = fields + self.options.input_noise * torch.randn_like(fields)
            batch.extras[NOISY_INPUT] = fields  # the residual head adds its change to what the model saw
        if self.options.time_features:
            hours = batch.extras.get("hour")
            if hours is None:
                raise ValueError("this model uses the time of day: the batch needs extras['hour'] (B,) UTC hours")
            fields = torch.cat([fields, time_channels(hours, self.options.grid).to(fields.dtype)], dim=1)
        hidden = self.proj(pad_fields(fields, self.options))  # (B, D, h, w)
        hidden = hidden.flatten(2).transpose(1, 2)  # (B, h*w, D)
        if self.pos_embed is not None:
            hidden = hidden + self.pos_embed
        mask = batch.padding_mask
        return Embedded(self.dropout(hidden), mask, mask, batch.positions)
