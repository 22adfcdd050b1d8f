"""The timeseries domain's model settings, read from `ModelConfig.domain_options` and validated once.

A window has `context_length` input steps of `channels` series values and `prediction_length` steps to
forecast. Each channel's context is cut into `num_patches` patches of `patch_length` steps, `patch_stride`
apart, taken from the END of the context (the first `sequence_start` steps are left out when the patches
do not tile it), as transformers' `PatchTSTPatchify` does. With `residual_season: m` the head forecasts the
departure from the seasonal naive forecast of period m (1: the last value), which it starts from; with
`persistence_weights` too it starts from s_h + w_h (last - s_h) at step h (s the seasonal naive: w_h 0 is
that, 1 persistence). `persistence_weights: fit` takes the least-squares w_h (in [0, 1]) of the training
windows when training starts (`prepare.complete_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sciformer.config import ModelConfig
from sciformer.errors import ConfigError

Settings = TypeVar("Settings")
DOMAIN = "timeseries"
TASK = "forecast"
SCALINGS = ("std", "mean", "none")  # reversible instance normalisation: PatchTST's std, mean and no scaler
POOLINGS = ("flatten", "mean", "max", "cls")  # how the head reduces a channel's tokens
FIT = "fit"  # persistence_weights fitted on the training windows
MINIMUM_SCALE = {"std": 1e-5, "mean": 1e-10, "none": 0.0}  # transformers' defaults

#: Settings a new model starts from: transformers' PatchTSTConfig defaults (d_model 128, 3 layers, 4 heads,
#: ffn 512, BatchNorm, pre-norm, sin-cos positions; patches of 16 steps, 8 apart, std scaling: the
#: defaults of `SeriesOptions`), with the original PatchTST's flatten head. A recipe for the encoder-decoder
#: gives its own settings (the plugin README has transformers' defaults).
DEFAULT_CONFIG: dict[str, Any] = {
    "dim": 128,
    "depth": 3,
    "heads": 4,
    "mlp_ratio": 4.0,
    "norm": "pre",
    "norm_layer": "batchnorm",
    "final_norm": False,
    "activation": "gelu",
    "position": "sinusoidal",
    "task": TASK,
}


@dataclass(frozen=True)
class ForecastWindow:
    """What both forecasters' settings start with: `context_length` steps in, `prediction_length` steps out, of
    `num_channels` series named by `channels` (empty: unnamed)."""

    context_length: int
    prediction_length: int
    num_channels: int
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeriesOptions(ForecastWindow):
    """Validated settings of one model (see the module docstring); `channels` may be unnamed (empty)."""

    patch_length: int = 16
    patch_stride: int = 8
    scaling: str = "std"
    minimum_scale: float | None = None  # None: the scaler's default (MINIMUM_SCALE)
    cls_token: bool = False
    share_embedding: bool = True
    share_projection: bool = True
    head_pooling: str = "flatten"
    head_dropout: float = 0.0
    residual_season: int | None = None
    persistence_weights: str | tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("context_length", "prediction_length", "num_channels", "patch_length", "patch_stride"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"domain_options.{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.context_length <= self.patch_length:
            raise ConfigError(f"context_length ({self.context_length}) must exceed patch_length ({self.patch_length})")
        if self.channels and len(self.channels) != self.num_channels:
            raise ConfigError(f"domain_options.channels names {len(self.channels)} channels, num_channels is {self.num_channels}")
        if self.scaling not in SCALINGS:
            raise ConfigError(f"domain_options.scaling must be one of {list(SCALINGS)}, got {self.scaling!r}")
        if self.head_pooling not in POOLINGS:
            raise ConfigError(f"domain_options.head_pooling must be one of {list(POOLINGS)}, got {self.head_pooling!r}")
        season = self.residual_season
        if season is not None and (not isinstance(season, int) or not 1 <= season <= self.context_length):
            raise ConfigError(f"domain_options.residual_season must be an integer from 1 to context_length ({self.context_length}), got {season!r}")
        self._check_persistence_weights()
        if self.head_pooling == "cls" and not self.cls_token:
            raise ConfigError("domain_options.head_pooling 'cls' needs domain_options.cls_token: true")

    def _check_persistence_weights(self) -> None:
        weights, name = self.persistence_weights, "domain_options.persistence_weights"
        if weights is None or weights == FIT:
            if weights == FIT and self.residual_season is None:
                raise ConfigError(f"{name} needs domain_options.residual_season (the seasonal naive they blend with)")
            return
        if isinstance(weights, str) or self.residual_season is None:
            raise ConfigError(f"{name} must be {FIT!r} or {self.prediction_length} numbers, with residual_season set; got {weights!r}")
        if len(weights) != self.prediction_length or not all(isinstance(w, (int, float)) and 0.0 <= w <= 1.0 for w in weights):
            raise ConfigError(f"{name} must be {self.prediction_length} numbers from 0 to 1 (one per step), got {list(weights)}")

    @classmethod
    def from_config(cls, config: ModelConfig) -> SeriesOptions:
        """The settings of `config`; context, horizon and channels must be known (see `prepare.complete_config`)."""
        options = read_settings(cls, config, "PatchTST", ("channels",))
        weights = options.persistence_weights
        if weights is not None and weights != FIT:
            return replace(options, persistence_weights=tuple(float(w) for w in weights))
        return options

    @property
    def context_steps(self) -> int:
        """Steps of a record's context (the reader's `context`)."""
        return self.context_length

    @property
    def num_patches(self) -> int:
        """Patches per channel."""
        return (self.context_length - self.patch_length) // self.patch_stride + 1

    @property
    def sequence_start(self) -> int:
        """Context steps before the first patch (left out)."""
        return self.context_length - (self.patch_length + self.patch_stride * (self.num_patches - 1))

    @property
    def tokens_per_channel(self) -> int:
        """Patches per channel, plus the CLS token when there is one."""
        return self.num_patches + int(self.cls_token)

    @property
    def token_positions(self) -> tuple[int, ...]:
        """Each token's position within its channel, channel after channel."""
        return tuple(range(self.tokens_per_channel)) * self.num_channels

    @property
    def num_tokens(self) -> int:
        """Tokens per window: every channel's, channel after channel."""
        return self.num_channels * self.tokens_per_channel

    @property
    def scale_floor(self) -> float:
        """The scaler's minimum scale."""
        return MINIMUM_SCALE[self.scaling] if self.minimum_scale is None else float(self.minimum_scale)


def read_settings(cls: type[Settings], config: ModelConfig, model: str, sequences: tuple[str, ...]) -> Settings:
    """The dataclass `cls` of a forecaster's `domain_options`: context, horizon and channels must be known,
    unknown keys are refused naming the `model`, and the fields `sequences` become tuples."""
    options = dict(config.domain_options)
    missing = [name for name in ("context_length", "prediction_length", "num_channels") if name not in options]
    if missing:
        raise ConfigError(f"timeseries models need domain_options {missing} (learned from the training windows, or set them)")
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown domain_options {unknown} of the {model} forecaster; known: {sorted(known)}")
    return cls(**{**options, **{name: tuple(options[name] or ()) for name in sequences if name in options}})

