"""The encoder-decoder forecaster's head: a predictive distribution per forecast step and channel
(transformers' `StudentTOutput` / `NormalOutput` with its `ParameterProjection`).

One Linear(D, C) per parameter maps the decoder's output to unbounded values; `df = 2 + squareplus(.)` and
`scale = squareplus(.)` (at least the float epsilon), where squareplus(x) = (x + sqrt(x^2 + 4)) / 2. The
window's scaling moves the distribution into the series' units: Student-t and normal are location-scale
families, so loc' = loc_w + scale_w * loc and scale' = scale_w * scale give exactly the distribution
transformers builds with its `AffineTransformed`. The prediction (B, S, C, P) stacks the parameters in
units: (df, loc, scale), or (loc, scale) for the normal.

Training minimises the negative log-likelihood of the targets, averaged over the forecast steps whose
every channel is known (transformers' `nll` with `weighted_average`); `evaluate` also reports the MSE and
MAE of the distribution's mean (a teacher-forced one-step-ahead forecast). Forecasts over the whole
horizon are sampled autoregressively (generate.py).
"""

from __future__ import annotations

import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.engine.heads import Head, ScoreColumn
from sciformer.errors import ConfigError
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal, StudentT

from .transformer_inputs import WindowScaling
from .transformer_options import TransformerOptions

PARAMETERS = {"student_t": ("df", "loc", "scale"), "normal": ("loc", "scale")}


def squareplus(x: Tensor) -> Tensor:
    """A smooth map onto the positive numbers: (x + sqrt(x^2 + 4)) / 2."""
    return (x + torch.sqrt(torch.square(x) + 4.0)) / 2.0


def distribution(prediction: Tensor, kind: str) -> Distribution:
    """The predictive distribution of parameters (..., C, P) in units, independent over the C channels."""
    if kind == "student_t":
        base: Distribution = StudentT(prediction[..., 0], prediction[..., 1], prediction[..., 2])
    else:
        base = Normal(prediction[..., 0], prediction[..., 1])
    return Independent(base, 1)


class DistributionHead(Head):
    """Decoder output (B, S, D) -> distribution parameters (B, S, C, P) in the series' units."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.options = TransformerOptions.from_config(config)
        self.kind = self.options.distribution
        self.proj = nn.ModuleList(nn.Linear(config.dim, self.options.num_channels) for _ in PARAMETERS[self.kind])

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """The parameters of each decoder step's distribution, moved into units by the window's scaling."""
        raw = [projection(hidden).float() for projection in self.proj]  # each (B, S, C)
        scaling: WindowScaling = embedded.layout
        loc_w, scale_w = scaling.loc, scaling.scale  # (B, 1, C)
        scale = squareplus(raw[-1]).clamp_min(torch.finfo(raw[-1].dtype).eps)
        loc = loc_w + scale_w * raw[-2]
        parameters = [loc, scale_w * scale]
        if self.kind == "student_t":
            parameters.insert(0, 2.0 + squareplus(raw[0]))
        return torch.stack(parameters, dim=-1)

    def _weights(self, batch: TokenBatch) -> Tensor:
        """(B, S): 1 for the forecast steps whose every channel is known."""
        if batch.targets is None:
            raise ConfigError("forecast training needs targets: windows with `horizon` steps after their context")
        mask = batch.extras.get("target_mask", torch.ones_like(batch.targets, dtype=torch.bool))
        return mask.all(dim=-1).to(torch.float32)

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Negative log-likelihood of the targets, averaged over the known forecast steps."""
        weights = self._weights(batch)
        nll = -distribution(prediction, self.kind).log_prob(batch.targets.float())  # (B, S)
        return (nll * weights).sum() / weights.sum().clamp(min=1.0)

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Summed loss per record; squared and absolute errors of the mean per known value (mse, mae)."""
        prediction = prediction.detach()
        loss = float(self.loss(prediction, batch))
        known = batch.extras.get("target_mask", torch.ones_like(batch.targets, dtype=torch.bool)).float()
        errors = (prediction[..., -2] - batch.targets.float()) * known
        count = round(float(known.sum()))
        return {"loss": (loss * batch.size, batch.size), "mse": (float((errors**2).sum()), count), "mae": (float(errors.abs().sum()), count)}

    def score_columns(self) -> dict[str, ScoreColumn]:
        """`forecast` (H, C): the mean of the sampled paths (the scorer samples them), in the series' units."""
        attributes = {"layout": "(step, channel)", "units": "the series' units", "horizon": self.options.prediction_length,
                      "what": f"mean of {self.options.num_parallel_samples} sampled paths (option samples)"}  # fmt: skip
        if self.options.channels:
            attributes["channels"] = list(self.options.channels)
        return {"forecast": ScoreColumn((self.options.prediction_length, self.options.num_channels), attributes=attributes)}
