"""MAT's molecule self-attention as an engine attention bias.

Per head, MAT attends with `lambda_a * softmax(Q K^T / sqrt(d)) + lambda_d * g(D) + lambda_g * A`,
where D holds inter-atomic distances, A the adjacency with self-loops normalised by its row sums, and
g is `softmax(-D)` over each row or `exp(-D)`. Padded atoms are excluded from every term: their
distances are set to +inf before g (so they get weight 0, and the softmax is over real atoms only)
and their adjacency is 0. The two structural terms are the same for every head and every layer, so
they are computed once per forward pass as one (B, 1, T, T) mixture and broadcast over the heads.
"""

from __future__ import annotations

import torch
from sciformer.engine.bias import AttentionBias, AttentionTerms
from sciformer.engine.context import LayerContext
from torch import Tensor

ADJACENCY_EPS = 1e-6  # added to adjacency row sums, as MAT does (keeps the dummy node's empty row at 0)


def distance_kernel(distances: Tensor, padding_mask: Tensor, kernel: str) -> Tensor:
    """g(D) (B, T, T) with padded keys at weight 0: `softmax(-D)` over each row, or `exp(-D)`."""
    keys = padding_mask[:, None, :]  # (B, 1, T)
    masked = distances.float().masked_fill(~keys, float("inf"))
    if kernel == "softmax":
        return torch.softmax(-masked, dim=-1)
    if kernel == "exp":
        return torch.exp(-masked)
    raise ValueError(f"unknown distance kernel {kernel!r}")


def normalised_adjacency(adjacency: Tensor) -> Tensor:
    """A / (row sum + eps) (B, T, T); rows without bonds (the dummy node, padding) stay 0."""
    adjacency = adjacency.float()
    return adjacency / (adjacency.sum(dim=-1, keepdim=True) + ADJACENCY_EPS)


class MoleculeAttentionBias(AttentionBias):
    """Adds MAT's distance and adjacency terms after the softmax and scales the softmax by lambda_a.

    Reads `batch.extras["distances"]` and `batch.extras["adjacency"]` (B, T, T).
    """

    def __init__(self, lambda_attention: float, lambda_distance: float, lambda_adjacency: float, kernel: str) -> None:
        super().__init__()
        self.lambda_attention = float(lambda_attention)
        self.lambda_distance = float(lambda_distance)
        self.lambda_adjacency = float(lambda_adjacency)
        self.kernel = kernel

    def mixture(self, distances: Tensor, adjacency: Tensor, padding_mask: Tensor) -> Tensor:
        """lambda_d g(D) + lambda_g A_norm as (B, 1, T, T), broadcast over heads by the engine."""
        terms = self.lambda_distance * distance_kernel(distances, padding_mask, self.kernel)
        terms = terms + self.lambda_adjacency * normalised_adjacency(adjacency)
        return terms[:, None]  # (B, 1, T, T)

    def forward(self, ctx: LayerContext) -> AttentionTerms:
        """The same mixture for every layer, computed at the first and kept in `ctx.state`."""
        mixture = ctx.state.get(self)
        if mixture is None:
            extras = ctx.batch.extras
            mixture = self.mixture(extras["distances"], extras["adjacency"], ctx.padding_mask)
            ctx.state[self] = mixture
        return AttentionTerms(mixture=mixture, attention_weight=self.lambda_attention)

    def extra_repr(self) -> str:
        """Lambdas and kernel, for printing the model."""
        return f"lambda_attention={self.lambda_attention}, lambda_distance={self.lambda_distance}, lambda_adjacency={self.lambda_adjacency}, kernel={self.kernel!r}"
