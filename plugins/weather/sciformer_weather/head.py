"""The forecasting head: tokens back to patches and fields (FourCastNet's linear head and rearrange).

Each token (B, h*w, D) becomes a patch of C * ph * pw values by a bias-free linear map, laid out as
FourCastNet's `rearrange("b h w (p1 p2 c) -> b c (h p1) (w p2)")`; the padded grid is cropped back to
(H, W). The prediction is the normalised field one model step ahead; with `residual` the head predicts
the change and the input field is added back (FourCastNet predicts the field itself).
"""

from __future__ import annotations

import numpy as np
import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.engine.heads import Head, ScoreColumn
from sciformer.errors import ConfigError
from torch import Tensor, nn

from .embedding import NOISY_INPUT
from .grid import latitude_weights
from .normalise import Normaliser
from .options import WeatherOptions


def tokens_to_fields(patches: Tensor, options: WeatherOptions) -> Tensor:
    """(B, h*w, ph*pw*C) in (p1, p2, c) order -> (B, C, H, W), cropped to the unpadded grid."""
    batch = patches.shape[0]
    (h, w), (ph, pw), channels = options.patch_grid, options.patch, len(options.channels)
    fields = patches.reshape(batch, h, w, ph, pw, channels)  # b h w p1 p2 c
    fields = fields.permute(0, 5, 1, 3, 2, 4)  # b c h p1 w p2
    fields = fields.reshape(batch, channels, h * ph, w * pw)
    rows, cols = options.grid
    return fields[:, :, :rows, :cols]


class ForecastHead(Head):
    """Predicts the next field (B, C, H, W); loss MSE over valid points, latitude-weighted when configured."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.options = WeatherOptions.from_config(config)
        ph, pw = self.options.patch
        self.linear = nn.Linear(config.dim, len(self.options.channels) * ph * pw, bias=False)
        nn.init.trunc_normal_(self.linear.weight, std=0.02)  # FourCastNet's initialisation
        weights = latitude_weights(self.options.latitudes, self.options.grid[0]) if self.options.weighted_loss else None
        rows = torch.ones(self.options.grid[0]) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        self.register_buffer("row_weights", rows[:, None], persistent=False)  # (H, 1), derived from the config

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, h*w, D) -> (B, C, H, W) normalised fields (added to the input fields when `residual`)."""
        fields = tokens_to_fields(self.linear(hidden), self.options)
        if not self.options.residual:
            return fields
        return batch.extras.get(NOISY_INPUT, batch.features) + fields

    def score_columns(self) -> dict[str, ScoreColumn]:
        """`forecast` (C, H, W): the field one model step ahead, in physical units."""
        grid = tuple(self.options.grid)
        attributes = {"channels": list(self.options.channels), "lead_steps": self.options.step, "units": "physical (de-normalised)"}
        return {"forecast": ScoreColumn((len(self.options.channels), *grid), attributes=attributes)}

    def score_values(self, prediction: Tensor, embedded: Embedded, batch: TokenBatch) -> dict[str, np.ndarray]:
        """The de-normalised forecast of each record."""
        return {"forecast": Normaliser.of(self.options).inverse(prediction.float().cpu().numpy())}

    def _squared_errors(self, prediction: Tensor, batch: TokenBatch) -> tuple[Tensor, Tensor]:
        """Weighted squared errors and weights (B, C, H, W), zero where the target is masked."""
        if batch.targets is None:
            raise ConfigError("forecast training needs targets: read records with a lead of at least 1")
        targets = batch.targets.float()
        weights = self.row_weights.expand_as(targets)
        mask = batch.extras.get("target_mask")
        if mask is not None:
            weights = weights * mask.to(weights.dtype)
        errors = (prediction.float() - targets) ** 2 * weights
        return errors, weights

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Mean squared error in normalised units over valid points (latitude-weighted when configured)."""
        errors, weights = self._squared_errors(prediction, batch)
        return errors.sum() / weights.sum().clamp(min=1e-12)

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Summed loss per record and summed squared error per grid value (the trainer reports mse and rmse)."""
        errors, weights = self._squared_errors(prediction.detach(), batch)
        loss = float(errors.sum() / weights.sum().clamp(min=1e-12))
        return {"loss": (loss * batch.size, batch.size), "mse": (float(errors.sum()), round(float(weights.sum())))}
