"""Completing a model's settings from its training windows: context and prediction length, channels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sciformer.config import ModelConfig
from sciformer.errors import ConfigError
from sciformer.records import Record

from .series import Window
from .transformer_options import DEFAULT_LAGS, is_transformer


def complete_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """Fill in `context_length`, `prediction_length`, `num_channels` and `channels` from the first usable
    window with a target (the encoder-decoder's context_length leaves out the steps its longest lag reads
    before it); values the configuration gives must agree with it."""
    usable = next((r for r in records if not r.error and r.data is not None and r.target is not None), None)
    if usable is None:
        raise ConfigError("no usable time-series window with a target to learn the context, horizon and channels from")
    context = np.shape(usable.data.context if isinstance(usable.data, Window) else usable.data)
    lags = config.option("lags_sequence") or DEFAULT_LAGS
    before = max(lags) if is_transformer(config) else 0  # the encoder-decoder's lags read steps before its context
    learned: dict[str, Any] = {
        "context_length": int(context[0]) - before,
        "prediction_length": int(np.shape(usable.target)[0]),
        "num_channels": int(context[1]) if len(context) > 1 else 1,
    }
    if isinstance(usable.data, Window):
        learned["channels"] = list(usable.data.channels)
    options = dict(config.domain_options)
    for key, value in learned.items():
        if key in options and key != "channels" and options[key] != value:
            raise ConfigError(f"domain_options.{key} is {options[key]}, but the training windows have {value}")
        options.setdefault(key, value)
    return config.replace(domain_options=options)
