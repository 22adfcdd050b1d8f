"""MAT's own block parts, offered to the engine by name (`norm_layer: mat`, `mlp_layer: mat`).

With them an imported MAT computes exactly what the reference code computes: its norm divides by the
unbiased standard deviation plus eps (not the square root of the biased variance plus eps, as
nn.LayerNorm does), and its feed-forward with `N_dense=1` is one linear layer and an activation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.engine.parts import BlockParts, NormMaker
from torch import Tensor, nn

from .options import MoleculeOptions


class MatNorm(nn.Module):
    """`weight * (x - mean) / (std_unbiased + eps) + bias` over the last axis (MAT's LayerNorm)."""

    def __init__(self, width: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """(..., width) -> (..., width)."""
        centred = x - x.mean(-1, keepdim=True)
        return self.weight * centred / (x.std(-1, keepdim=True) + self.eps) + self.bias


class MatFeedForward(nn.Module):
    """MAT's position-wise feed-forward with `N_dense=1`: `activation(W x + b)`, (B, T, D) -> (B, T, D).

    The activation is MAT's `dense_output_nonlinearity`: leaky ReLU with `feed_forward_slope`, tanh or none.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        options = MoleculeOptions.from_config(config)
        self.fc = nn.Linear(config.dim, config.dim)
        self.kind, self.slope = options.feed_forward_activation, options.feed_forward_slope

    def forward(self, x: Tensor) -> Tensor:
        """Apply the feed-forward token-wise."""
        y = self.fc(x)
        if self.kind == "leaky_relu":
            return F.leaky_relu(y, self.slope)
        return y.tanh() if self.kind == "tanh" else y


def _mat_feed_forward(config: ModelConfig, norm: NormMaker) -> nn.Module:
    return MatFeedForward(config)


MAT_PARTS = BlockParts(norms={"mat": lambda width, config: MatNorm(width, config.norm_eps)}, mlps={"mat": _mat_feed_forward})
