"""An additive distance bias in the Graphormer-3D / Uni-Mol style: Gaussian basis -> MLP -> per-head logits.

Each pairwise distance is expanded in K Gaussians with learned centres and widths, and a small MLP
maps the K values to one logit bias per head, added to Q K^T / sqrt(d) before the softmax. The
bias depends on distances only, so it is computed once per forward pass and shared by all layers.
Distances of 1e6 (to the dummy node) give an all-zero basis, i.e. a learned constant bias.
"""

from __future__ import annotations

import math

import torch
from sciformer.engine.bias import AttentionBias, AttentionTerms
from sciformer.engine.context import LayerContext
from torch import Tensor, nn

MIN_WIDTH = 1e-2  # angstrom; keeps every Gaussian from collapsing to a spike


class GaussianDistanceBias(AttentionBias):
    """Distances (B, T, T) -> logit bias (B, H, T, T) through K Gaussians and a K -> K -> H MLP."""

    def __init__(self, heads: int, kernels: int, cutoff: float) -> None:
        super().__init__()
        self.centres = nn.Parameter(torch.linspace(0.0, cutoff, kernels))
        self.widths = nn.Parameter(torch.full((kernels,), cutoff / kernels))
        self.mlp = nn.Sequential(nn.Linear(kernels, kernels), nn.GELU(), nn.Linear(kernels, heads))

    def basis(self, distances: Tensor) -> Tensor:
        """(B, T, T) -> normalised Gaussian densities (B, T, T, K)."""
        width = self.widths.abs() + MIN_WIDTH  # (K,)
        z = (distances.float()[..., None] - self.centres) / width  # (B, T, T, K)
        return torch.exp(-0.5 * z * z) / (math.sqrt(2 * math.pi) * width)

    def forward(self, ctx: LayerContext) -> AttentionTerms:
        """One per-head logit bias for every layer, computed at the first and kept in `ctx.state`."""
        logits = ctx.state.get(self)
        if logits is None:
            logits = self.mlp(self.basis(ctx.batch.extras["distances"])).permute(0, 3, 1, 2)  # (B, H, T, T)
            ctx.state[self] = logits
        return AttentionTerms(logits=logits)
