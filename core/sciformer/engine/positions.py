"""Position encodings: sinusoidal and learned absolute (added by embedders) and rotary (given to every mixer)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.errors import ConfigError


class SinusoidalPositions(nn.Module):
    """Fixed sine / cosine table of Vaswani et al.: position (B, T) -> (B, T, D)."""

    def __init__(self, dim: int, max_positions: int) -> None:
        super().__init__()
        position = torch.arange(max_positions, dtype=torch.float32)[:, None]
        frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        table = torch.zeros(max_positions, dim)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
        self.register_buffer("table", table, persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        """Vectors for integer positions."""
        return self.table[positions]


class LearnedPositions(nn.Embedding):
    """One trained vector per absolute position: position (B, T) -> (B, T, D)."""

    def __init__(self, dim: int, max_positions: int) -> None:
        super().__init__(max_positions, dim)
        nn.init.normal_(self.weight, std=0.02)


def absolute_positions(kind: str, dim: int, max_positions: int) -> nn.Module | None:
    """The additive position module for `kind`, or None where positions are not added to embeddings."""
    if kind == "sinusoidal":
        return SinusoidalPositions(dim, max_positions)
    if kind == "learned":
        return LearnedPositions(dim, max_positions)
    if kind in ("none", "rotary"):
        return None
    raise ConfigError(f"unknown position encoding {kind!r}")


def rotate_half(x: Tensor) -> Tensor:
    """(x1, x2) -> (-x2, x1) on the last axis split in halves."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryPositions(nn.Module):
    """Rotary position embedding (Su et al.) in the half-split layout ESM-2 and GPT-NeoX use."""

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Rotate queries and keys (B, H, T, Dh) by their positions (B, T)."""
        angles = positions[:, None, :, None].to(torch.float32) * self.inv_freq  # (B, 1, T, Dh/2)
        angles = torch.cat((angles, angles), dim=-1)  # (B, 1, T, Dh)
        cos, sin = angles.cos().to(q.dtype), angles.sin().to(q.dtype)
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def query_key_positions(config: ModelConfig) -> nn.Module | None:
    """The positions a token mixer applies to queries and keys (rotary), or None where the embedder adds them."""
    return RotaryPositions(config.head_dim) if config.position == "rotary" else None
