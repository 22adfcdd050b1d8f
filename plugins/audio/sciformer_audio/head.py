"""AST's classification head: LayerNorm then Linear over the pooled (CLS + distillation) / 2 vector."""

from __future__ import annotations

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.engine.heads import SequenceHead, pool
from torch import Tensor, nn


class ASTHead(SequenceHead):
    """`ASTMLPHead` of transformers: `linear(norm(pooled))`; the engine's losses and metrics.

    The engine's SequenceHead has no LayerNorm, so imported AST classifiers would not match it.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, regression=config.task == "sequence-regression")
        self.norm = nn.LayerNorm(config.dim, eps=config.norm_eps)

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, T, D) -> (B, num_labels)."""
        return self.linear(self.dropout(self.norm(pool(hidden, embedded, self.pooling))))
