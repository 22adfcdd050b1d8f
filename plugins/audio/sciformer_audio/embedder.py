"""The Audio Spectrogram Transformer's embedder (AST, Interspeech 2021): waveforms -> patch tokens.

The front end turns the batch's waveforms into normalised (B, frames, bins) features on the device;
a strided convolution cuts 16x16 patches that overlap (stride 10 by default) over frequency and time;
CLS and distillation tokens lead, and a learned position table over the (frequency, time) patch grid
is added. When the table was learned on another grid (a model fine-tuned to another frame count),
it is resampled bilinearly to the current grid. Pooling averages the two special tokens: with
`pooling: mean` the model's `pooled` output is AST's `(cls + distillation) / 2`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.engine.positions import SinusoidalPositions
from sciformer.errors import ConfigError
from torch import Tensor, nn

from sciformer_audio.frontend import AudioFrontend
from sciformer_audio.settings import AudioSettings
from sciformer_audio.tokenizer import NUM_SAMPLES

SPECIAL_TOKENS = 2  # CLS and distillation


def resample_positions(table: Tensor, source: tuple[int, int], target: tuple[int, int]) -> Tensor:
    """(1, 2 + F*T, D) table on the `source` grid -> (1, 2 + F'*T', D) on `target`; special tokens kept."""
    if source == target:
        return table
    special, grid = table[:, :SPECIAL_TOKENS], table[:, SPECIAL_TOKENS:]
    dim = table.shape[-1]
    grid = grid.reshape(1, source[0], source[1], dim).permute(0, 3, 1, 2)  # (1, D, F, T)
    grid = F.interpolate(grid, size=target, mode="bilinear", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, target[0] * target[1], dim)  # (1, F'T', D), frequency-major
    return torch.cat((special, grid), dim=1)


class ASTEmbedder(nn.Module):
    """TokenBatch of padded waveforms -> Embedded (B, 2 + F*T, D); patches are frequency-major."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        settings = AudioSettings.from_config(config)
        self.settings = settings
        self.frontend = AudioFrontend(settings)
        stride = (settings.frequency_stride, settings.time_stride)
        self.patch = nn.Conv2d(1, config.dim, kernel_size=settings.patch_size, stride=stride)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.grid = settings.patch_grid
        self.table_grid = settings.table_grid
        self.position_table: nn.Parameter | None = None
        self.sinusoidal: SinusoidalPositions | None = None
        if config.position == "learned":
            table_tokens = SPECIAL_TOKENS + self.table_grid[0] * self.table_grid[1]
            self.position_table = nn.Parameter(torch.zeros(1, table_tokens, config.dim))
            nn.init.trunc_normal_(self.position_table, std=0.02)
        elif config.position == "sinusoidal":
            self.sinusoidal = SinusoidalPositions(config.dim, settings.num_tokens)
        elif config.position not in ("none", "rotary"):
            raise ConfigError(f"the audio embedder does not support position {config.position!r}")
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.distillation_token, std=0.02)
        self.dropout = nn.Dropout(config.dropout)

    def features(self, batch: TokenBatch) -> Tensor:
        """The batch's normalised front-end features (B, max_length, bins)."""
        if batch.features is None or NUM_SAMPLES not in batch.extras:
            raise ValueError("the audio embedder needs waveforms in batch.features and their lengths in extras['num_samples']")
        return self.frontend(batch.features, batch.extras[NUM_SAMPLES])

    def embed_features(self, features: Tensor) -> Tensor:
        """(B, frames, bins) features -> tokens (B, 2 + F*T, D) with positions, before dropout."""
        image = features.to(self.patch.weight.dtype).transpose(1, 2).unsqueeze(1)  # (B, 1, bins, frames): frequency is height
        patches = self.patch(image).flatten(2).transpose(1, 2)  # (B, F*T, D)
        size = patches.shape[0]
        tokens = torch.cat((self.cls_token.expand(size, -1, -1), self.distillation_token.expand(size, -1, -1), patches), dim=1)
        if self.position_table is not None:
            tokens = tokens + resample_positions(self.position_table, self.table_grid, self.grid)
        elif self.sinusoidal is not None:
            tokens = tokens + self.sinusoidal(torch.arange(tokens.shape[1], device=tokens.device))
        return tokens

    def forward(self, batch: TokenBatch) -> Embedded:
        """Waveforms -> Embedded; `pool_mask` selects the CLS and distillation tokens."""
        hidden = self.dropout(self.embed_features(self.features(batch)))
        pool_mask = torch.zeros_like(batch.padding_mask)
        pool_mask[:, :SPECIAL_TOKENS] = True
        return Embedded(hidden, batch.padding_mask, pool_mask, batch.positions)
