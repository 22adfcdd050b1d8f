"""ContrastiveModel: two sciformer encoders, linear projections to a shared space, and the symmetric
InfoNCE loss with a learnable temperature (kept as a log-scale and clamped, as CLIP does)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciformer.data.batch import TokenBatch
from sciformer.engine.model import SciformerModel

INITIAL_TEMPERATURE = 0.07  # CLIP's starting temperature: logits scaled by 1 / 0.07
MAX_LOGIT_SCALE = 100.0  # CLIP clamps the scale here so that training cannot sharpen without bound
SIDES = ("left", "right")


class ContrastiveModel(nn.Module):
    """Embeds paired records of two domains into one space where partners lie close.

    Each encoder's pooled representation (B, D_side) goes through a bias-free linear projection to
    (B, P) and is L2-normalised; similarities are cosines times `logit_scale.exp()`.
    """

    def __init__(self, left: SciformerModel, right: SciformerModel, projection_dim: int) -> None:
        super().__init__()
        self.left = left
        self.right = right
        self.left_projection = nn.Linear(left.config.dim, projection_dim, bias=False)
        self.right_projection = nn.Linear(right.config.dim, projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / INITIAL_TEMPERATURE)))

    def encoder(self, side: str) -> SciformerModel:
        """The left or right encoder."""
        return self.left if side == "left" else self.right

    def embed(self, side: str, batch: TokenBatch) -> Tensor:
        """(B, P) unit vectors of one side's records."""
        pooled = self.encoder(side)(batch).pooled  # (B, D_side)
        projection = self.left_projection if side == "left" else self.right_projection
        return F.normalize(projection(pooled.to(projection.weight.dtype)), dim=-1)

    def scale(self) -> Tensor:
        """The logit scale exp(s), with s clamped to [0, log 100]."""
        return self.logit_scale.clamp(0.0, math.log(MAX_LOGIT_SCALE)).exp()

    def forward(self, left: TokenBatch, right: TokenBatch) -> Tensor:
        """(B, B) logits: row i, column j compares left record i with right record j."""
        return self.scale() * self.embed("left", left) @ self.embed("right", right).T


def info_nce(logits: Tensor, keys: Tensor | None = None) -> Tensor:
    """Symmetric InfoNCE over a (B, B) logit matrix whose diagonal holds the true pairs.

    `keys` (B,) identifies each pair's right item: pairs sharing a key (the same label text paired
    with several records) count as positives of each other, with the target spread evenly over them,
    so that identical captions in a batch are not pushed apart. Without keys this is CLIP's loss.
    """
    logits = logits.float()
    if keys is None:
        targets = torch.eye(logits.shape[0], device=logits.device)
    else:
        targets = (keys[:, None] == keys[None, :]).float()  # (B, B), symmetric, diagonal True
    targets = targets / targets.sum(dim=1, keepdim=True)
    left_to_right = -(targets * logits.log_softmax(dim=1)).sum(dim=1).mean()
    right_to_left = -(targets * logits.log_softmax(dim=0)).sum(dim=0).mean()
    return (left_to_right + right_to_left) / 2
