"""Molecule heads: pooled atoms, with the molecule's descriptors beside them when the model takes them,
and regression that learns standardised targets and predicts in the data's own units."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.engine.heads import SequenceHead, pool
from torch import Tensor, nn

from sciformer_molecule.descriptors import DESCRIPTOR_NAMES
from sciformer_molecule.options import MoleculeOptions
from sciformer_molecule.tokenizer import MOLECULE_FEATURES


class MoleculeHead(SequenceHead):
    """The engine's sequence head; with `molecule_features: rdkit2d` the standardised descriptors go
    through their own Linear + GELU (`feature_hidden` wide) and are concatenated with the pooled atoms
    before the final Linear, as Chemprop feeds its `rdkit_2d` features to its readout."""

    def __init__(self, config: ModelConfig, regression: bool) -> None:
        super().__init__(config, regression)
        options = MoleculeOptions.from_config(config)
        self.descriptor_layer: nn.Module | None = None
        if options.molecule_features == "rdkit2d":
            self.descriptor_layer = nn.Sequential(nn.Linear(len(DESCRIPTOR_NAMES), options.feature_hidden), nn.GELU(), nn.Dropout(config.dropout))
            self.linear = nn.Linear(config.dim + options.feature_hidden, config.num_labels)

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, T, D) -> (B, num_labels)."""
        pooled = pool(hidden, embedded, self.pooling)
        if self.descriptor_layer is not None:
            pooled = torch.cat((pooled, self.descriptor_layer(batch.extras[MOLECULE_FEATURES].to(pooled.dtype))), dim=-1)
        return self.linear(self.dropout(pooled))


class StandardisedRegressionHead(MoleculeHead):
    """Regression whose output is `mean + std * head(h)`.

    `target_mean` / `target_std` come from the training targets (see `MoleculeDomain.prepare_config`), so
    the linear layer starts near the right scale; the loss is the MSE of standardised values, and
    predictions and evaluation (`mse`, hence `rmse`) are in the targets' units. With mean 0 and
    std 1 and no descriptors this is exactly the engine's regression head (and MAT's generator).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, regression=True)
        options = MoleculeOptions.from_config(config)
        self.mean = float(options.target_mean)
        self.std = float(options.target_std)

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, T, D) -> (B, num_labels) in target units."""
        return super().forward(hidden, embedded, batch) * self.std + self.mean

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """MSE of standardised predictions against standardised targets."""
        return F.mse_loss(prediction.float(), batch.targets.float().view_as(prediction)) / (self.std**2)
