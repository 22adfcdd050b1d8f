"""The one protocol for everything a plugin adds to attention (combined with the masks in masking.py)."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from torch import Tensor, nn

from sciformer.engine.context import LayerContext


@dataclass
class AttentionTerms:
    """One contribution to a layer's attention.

    `logits` is added to Q K^T / sqrt(d) before the softmax; any shape broadcastable to (B, H, T, T).
    `mixture` is added after the softmax (MAT's `lambda_d g(D) + lambda_g A`), broadcastable to
    (B, H, T, T); `attention_weight` scales the softmax itself (MAT's `lambda_a`).
    """

    logits: Tensor | None = None
    mixture: Tensor | None = None
    attention_weight: float | Tensor = 1.0


class AttentionBias(nn.Module, abc.ABC):
    """Base class of plugin attention biases: called once per layer per forward pass.

    Subclasses implement `forward(ctx) -> AttentionTerms | None`; returning None leaves a layer alone.
    Parameters of a bias belong to the model and are saved with it.
    """

    @abc.abstractmethod
    def forward(self, ctx: LayerContext) -> AttentionTerms | None:
        """This layer's contribution, computed from the batch and `ctx.state`."""
