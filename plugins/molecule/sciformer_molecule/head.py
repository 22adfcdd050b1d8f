"""A regression head that learns standardised targets and predicts in the data's own units."""

from __future__ import annotations

import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.engine.heads import SequenceHead
from torch import Tensor

from sciformer_molecule.options import MoleculeOptions


class StandardisedRegressionHead(SequenceHead):
    """Mean-pooled linear regression whose output is `mean + std * linear(pool(h))`.

    `target_mean` / `target_std` come from the training targets (see `MoleculeDomain.prepare_config`), so
    the linear layer starts near the right scale; the loss is the MSE of standardised values, and
    predictions and evaluation (`mse`, hence `rmse`) are in the targets' units. With mean 0 and
    std 1 this is exactly the engine's regression head (and MAT's generator).
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
