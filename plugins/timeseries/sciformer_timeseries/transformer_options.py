"""Settings of the encoder-decoder forecaster (`domain_options.architecture: transformer`), transformers'
`TimeSeriesTransformerForPrediction`: read from `ModelConfig.domain_options` and validated once.

The encoder reads `context_length` steps; each step's input also holds the values `lags_sequence` steps
earlier, so a record's context is `past_length` = context_length + max(lags) steps (the reader's
`context`). The decoder runs over the `prediction_length` forecast steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from sciformer.config import ModelConfig
from sciformer.errors import ConfigError

from .options import ForecastWindow, read_settings

ARCHITECTURE = "architecture"  # domain_options key: "patchtst" (the default) or "transformer"
TRANSFORMER = "transformer"
DISTRIBUTIONS = ("student_t", "normal")
SCALINGS = ("mean", "std", "none")
MINIMUM_SCALE = {"mean": 1e-10, "std": 1e-5, "none": 0.0}  # transformers' defaults
DEFAULT_LAGS = (1, 2, 3, 4, 5, 6, 7)  # transformers' default lags_sequence


def is_transformer(config: ModelConfig) -> bool:
    """Whether `config` is the encoder-decoder forecaster (else PatchTST)."""
    return config.option(ARCHITECTURE, "patchtst") == TRANSFORMER


@dataclass(frozen=True)
class TransformerOptions(ForecastWindow):
    """Validated settings of one encoder-decoder model (see the module docstring)."""

    lags_sequence: tuple[int, ...] = DEFAULT_LAGS
    scaling: str = "mean"
    minimum_scale: float | None = None  # None: the scaler's default (MINIMUM_SCALE)
    distribution: str = "student_t"
    num_parallel_samples: int = 100
    time_features: tuple[str, ...] = ()  # names from time_features.TIME_FEATURES, computed from the records' time stamps
    architecture: str = TRANSFORMER

    def __post_init__(self) -> None:
        for name in ("context_length", "prediction_length", "num_channels", "num_parallel_samples"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"domain_options.{name} must be a positive integer, got {getattr(self, name)!r}")
        if not self.lags_sequence or any(not isinstance(lag, int) or lag < 1 for lag in self.lags_sequence):
            raise ConfigError(f"domain_options.lags_sequence must be positive integers, got {list(self.lags_sequence)}")
        if self.scaling not in SCALINGS:
            raise ConfigError(f"domain_options.scaling must be one of {list(SCALINGS)}, got {self.scaling!r}")
        if self.distribution not in DISTRIBUTIONS:
            raise ConfigError(f"domain_options.distribution must be one of {list(DISTRIBUTIONS)}, got {self.distribution!r}")
        if self.channels and len(self.channels) != self.num_channels:
            raise ConfigError(f"domain_options.channels names {len(self.channels)} channels, num_channels is {self.num_channels}")
        from .time_features import TIME_FEATURES

        unknown = [name for name in self.time_features if name not in TIME_FEATURES]
        if unknown:
            raise ConfigError(f"unknown time feature(s) {unknown}; known: {list(TIME_FEATURES)}")

    @classmethod
    def from_config(cls, config: ModelConfig) -> TransformerOptions:
        """The settings of `config`; context, horizon and channels must be known."""
        return read_settings(cls, config, "encoder-decoder", ("channels", "lags_sequence", "time_features"))

    @property
    def past_length(self) -> int:
        """Steps of history a record's context holds: the encoder's steps and the longest lag before them."""
        return self.context_length + max(self.lags_sequence)

    @property
    def context_steps(self) -> int:
        """Steps of a record's context (the reader's `context`): `past_length`."""
        return self.past_length

    @property
    def token_positions(self) -> tuple[int, ...]:
        """Each encoder token's position."""
        return tuple(range(self.context_length))

    @property
    def num_tokens(self) -> int:
        """Encoder tokens per window: one per encoder step."""
        return self.context_length

    @property
    def feature_size(self) -> int:
        """Inputs per step: each channel's lagged values, log |loc| and log scale per channel, the time features."""
        return self.num_channels * (len(self.lags_sequence) + 2) + len(self.time_features)

    @property
    def scale_floor(self) -> float:
        """The scaler's minimum scale."""
        return MINIMUM_SCALE[self.scaling] if self.minimum_scale is None else float(self.minimum_scale)
