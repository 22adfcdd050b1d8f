"""The `batchnorm` block norm: PatchTST's `PatchTSTBatchNorm`, offered to any domain through `sciformer_block_parts`.

transformers' PatchTST normalises each feature over the batch and the tokens (BatchNorm1d over the
(batch, d_model, tokens) transpose). The same statistics come from BatchNorm1d over the tokens of the
batch flattened to (N, D), which takes any leading shape. It keeps running statistics (used in eval mode).
"""

from __future__ import annotations

from sciformer.config import ModelConfig
from torch import Tensor, nn


class BatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over the last axis of (..., D) inputs; parameters and buffers named as BatchNorm1d's."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """Normalise every feature over all leading positions (batch statistics in training, running ones in eval)."""
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def batchnorm(width: int, config: ModelConfig) -> nn.Module:
    """A `BatchNorm` of `width` features with the model's `norm_eps` (the `NormFactory` of `batchnorm`)."""
    return BatchNorm(width, eps=config.norm_eps)
