"""The forecasting head: each channel's tokens -> its next H values (transformers' `PatchTSTPredictionHead`).

A channel's patch tokens are flattened (the original PatchTST; transformers' `pooling_type: None`) or
mean / max pooled, or its CLS token is taken, then one Linear to H steps, shared by the channels or one per
channel. The instance normalisation is undone, so the prediction (B, H, C) is in the series' units. With
`residual_season: m` the projection (zero at the start) forecasts the departure from the seasonal naive
forecast of period m, so an untrained model is that baseline and training learns what it misses; with
`persistence_weights` w the start is the blend s_h + w_h (last - s_h) of that forecast s and persistence.

Training minimises the MSE on the normalised scale: each error is divided by its window and channel's
scale, so series of different magnitudes weigh alike (transformers computes the MSE in units instead).
Missing target values (`extras["target_mask"]`) are left out.
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

from .baselines import seasonal_sources
from .embedding import SeriesLayout
from .options import FIT, SeriesOptions
from .revin import instance_statistics


class ForecastHead(Head):
    """(B, C*S, D) tokens -> forecasts (B, H, C) in the series' units."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.options = options = SeriesOptions.from_config(config)
        width = config.dim * options.num_patches if options.head_pooling == "flatten" else config.dim
        if options.share_projection:
            self.projection = nn.Linear(width, options.prediction_length)
        else:
            self.projections = nn.ModuleList(nn.Linear(width, options.prediction_length) for _ in range(options.num_channels))
        self.dropout = nn.Dropout(options.head_dropout)
        self.naive_steps: Tensor | None
        sources = None
        if options.residual_season is not None:
            sources = torch.as_tensor(seasonal_sources(options.context_length, options.prediction_length, options.residual_season))
        self.register_buffer("naive_steps", sources, persistent=False)
        self.persistence_weights: Tensor | None
        weights = options.persistence_weights
        if weights == FIT:
            raise ConfigError("domain_options.persistence_weights 'fit' is resolved from the training windows by `sciformer train`; give one number per step to build a model without training")
        self.register_buffer("persistence_weights", None if weights is None else torch.tensor(weights).view(-1, 1), persistent=False)
        if sources is not None:
            for layer in [self.projection] if options.share_projection else list(self.projections):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, C*S, D) -> (B, H, C), de-normalised with the statistics in `embedded.layout`."""
        tokens = hidden.reshape(hidden.shape[0], self.options.num_channels, self.options.tokens_per_channel, hidden.shape[-1])
        pooled = self._pool(tokens)  # (B, C, width)
        if self.options.share_projection:
            out = self.projection(self.dropout(pooled))
        else:
            out = torch.stack([layer(self.dropout(pooled[:, c])) for c, layer in enumerate(self.projections)], dim=1)
        layout: SeriesLayout = embedded.layout
        return out.float().transpose(1, 2) * layout.scale + self._base(batch.features.float(), layout)

    def _base(self, features: Tensor, layout: SeriesLayout) -> Tensor:
        """What the projection's output is added to: the window's loc, or the seasonal naive forecast (B, H, C)
        blended with persistence by `persistence_weights`."""
        if self.naive_steps is None:
            return layout.loc
        seasonal = features[:, self.naive_steps, :]
        if self.persistence_weights is None:
            return seasonal
        return seasonal + self.persistence_weights * (features[:, -1:, :] - seasonal)

    def _pool(self, tokens: Tensor) -> Tensor:
        """(B, C, S, D) -> (B, C, width) by the configured pooling."""
        if self.options.head_pooling == "cls":
            return tokens[:, :, 0]
        own = tokens[:, :, int(self.options.cls_token) :]
        if self.options.head_pooling == "mean":
            return own.mean(dim=2)
        if self.options.head_pooling == "max":
            return own.max(dim=2).values
        return own.flatten(2)

    def _errors(self, prediction: Tensor, batch: TokenBatch) -> tuple[Tensor, Tensor, Tensor]:
        """Errors in units, errors on the normalised scale and the weights (B, H, C), 0 where the target is unknown."""
        if batch.targets is None:
            raise ConfigError("forecast training needs targets: windows with `horizon` steps after their context")
        _, scale = instance_statistics(batch.features, batch.extras["observed"], self.options.scaling, self.options.scale_floor)
        weights = batch.extras.get("target_mask", torch.ones_like(batch.targets, dtype=torch.bool)).to(torch.float32)
        errors = (prediction.float() - batch.targets.float()) * weights
        return errors, errors / scale, weights

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Mean squared error on the normalised scale over the known target values."""
        _, normalised, weights = self._errors(prediction, batch)
        return (normalised**2).sum() / weights.sum().clamp(min=1.0)

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Summed loss per record, and squared and absolute errors in units per known value (mse, mae)."""
        errors, normalised, weights = self._errors(prediction.detach(), batch)
        count = round(float(weights.sum()))
        loss = float((normalised**2).sum() / max(count, 1))
        return {
            "loss": (loss * batch.size, batch.size),
            "mse": (float((errors**2).sum()), count),
            "mae": (float(errors.abs().sum()), count),
        }

    def score_columns(self) -> dict[str, ScoreColumn]:
        """`forecast` (H, C): the next H steps of each channel, in the series' units."""
        attributes = {"layout": "(step, channel)", "units": "the series' units", "horizon": self.options.prediction_length}
        if self.options.channels:
            attributes["channels"] = list(self.options.channels)
        return {"forecast": ScoreColumn((self.options.prediction_length, self.options.num_channels), attributes=attributes)}

    def score_values(self, prediction: Tensor, embedded: Embedded, batch: TokenBatch) -> dict[str, np.ndarray]:
        """The forecast of each record."""
        return {"forecast": prediction.float().cpu().numpy()}
