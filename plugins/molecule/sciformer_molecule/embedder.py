"""The atom embedder: a linear projection of atom features, MAT's only input layer (no positions)."""

from __future__ import annotations

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.errors import ConfigError
from torch import nn

from sciformer_molecule.featurize import feature_count
from sciformer_molecule.options import MoleculeOptions


class AtomEmbedder(nn.Module):
    """`features` (B, T, F) -> hidden (B, T, D) by one Linear, then dropout.

    Atoms have no order, so the model takes no position encoding (config.position must be "none").
    Mean pooling averages every real token, the dummy node included, as MAT's generator does.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.position != "none":
            raise ConfigError(f"molecule models take no position encoding (atoms have no order): set model.position to 'none', got {config.position!r}")
        options = MoleculeOptions.from_config(config)
        self.projection = nn.Linear(feature_count(options), config.dim)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, batch: TokenBatch) -> Embedded:
        """Project atom features; padded tokens are masked by the engine, not zeroed here."""
        if batch.features is None:
            raise ValueError("AtomEmbedder needs a batch with atom features (B, T, F)")
        hidden = self.dropout(self.projection(batch.features))  # (B, T, D)
        return Embedded(hidden, batch.padding_mask, batch.padding_mask, batch.positions)
