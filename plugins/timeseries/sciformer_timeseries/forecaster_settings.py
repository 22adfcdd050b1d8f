"""Either forecaster's settings from a model configuration: PatchTST's (`options.py`) or the
encoder-decoder's (`transformer_options.py`)."""

from __future__ import annotations

from sciformer.config import ModelConfig

from .options import SeriesOptions
from .transformer_options import TransformerOptions, is_transformer


def window_options(config: ModelConfig) -> SeriesOptions | TransformerOptions:
    """The settings of either forecaster: `SeriesOptions` (PatchTST) or, for `architecture: transformer`,
    `TransformerOptions`; both tell `context_steps`, `prediction_length`, `num_channels`, `channels`."""
    return TransformerOptions.from_config(config) if is_transformer(config) else SeriesOptions.from_config(config)
