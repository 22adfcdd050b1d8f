"""The engine's token embedder for vocabulary domains: ids -> vectors (+ absolute positions)."""

from __future__ import annotations

from torch import nn

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.engine.positions import absolute_positions


class TokenEmbedder(nn.Module):
    """Embeds `batch.ids`; adds sinusoidal or learned positions (read from `batch.positions`) when the
    config asks for them.

    `vocab_size` rows, of which row `padding_id` is the padding token's (kept at zero, no gradient).
    `special_ids` are excluded from mean pooling (BOS, EOS, CLS, ...). `token_embedding` is the
    matrix language-model heads tie to.
    """

    def __init__(self, config: ModelConfig, vocab_size: int, padding_id: int, special_ids: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, config.dim, padding_idx=padding_id)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.token_embedding.weight.data[padding_id].zero_()
        self.positions = absolute_positions(config.position, config.dim, config.max_positions)
        self.dropout = nn.Dropout(config.dropout)
        self.special_ids = tuple(special_ids)

    def forward(self, batch: TokenBatch) -> Embedded:
        """TokenBatch with `ids` (B, T) -> Embedded with hidden (B, T, D)."""
        if batch.ids is None:
            raise ValueError("TokenEmbedder needs a batch with token ids")
        hidden = self.token_embedding(batch.ids)
        if self.positions is not None:
            hidden = hidden + self.positions(batch.positions)
        pool_mask = batch.padding_mask.clone()
        for special in self.special_ids:
            pool_mask &= batch.ids != special
        return Embedded(self.dropout(hidden), batch.padding_mask, pool_mask, batch.positions)
