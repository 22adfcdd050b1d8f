"""Completing a model's settings from its training windows: context and prediction length, channels, and
fitted `persistence_weights`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sciformer.config import ModelConfig
from sciformer.errors import ConfigError
from sciformer.records import Record

from .baselines import seasonal_sources
from .options import FIT
from .series import Window
from .transformer_options import DEFAULT_LAGS, is_transformer


def complete_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """Fill in `context_length`, `prediction_length`, `num_channels` and `channels` from the first usable
    window with a target (the encoder-decoder's context_length leaves out the steps its longest lag reads
    before it); values the configuration gives must agree with it. `persistence_weights: fit` becomes the
    weights `fit_persistence_weights` finds on the windows."""
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
    if options.get("persistence_weights") == FIT and options.get("residual_season"):  # without a season: refused by SeriesOptions
        options["persistence_weights"] = fit_persistence_weights(records, options["context_length"], options["residual_season"])
    return config.replace(domain_options=options)


def fit_persistence_weights(records: Sequence[Record], context: int, season: int) -> list[float]:
    """Per horizon step h, the w_h in [0, 1] of least squared error of s_h + w_h (last - s_h) over every
    known target value of the usable `records` (s the seasonal naive of period `season`, last the context's
    last value); 0 where last - s_h is always 0 (s_h is the last value)."""
    numerator = denominator = None
    for record in records:
        if record.error or record.data is None or record.target is None:
            continue
        values = np.asarray(record.data.context if isinstance(record.data, Window) else record.data, dtype=np.float64)
        values = values.reshape(values.shape[0], -1)[-context:]
        truth = np.asarray(record.target, dtype=np.float64).reshape(len(record.target), -1)
        seasonal = values[seasonal_sources(context, truth.shape[0], season)]  # (H, C)
        change, error = values[-1] - seasonal, truth - seasonal
        known = np.isfinite(change) & np.isfinite(error)
        product, square = np.where(known, change * error, 0.0).sum(axis=1), np.where(known, change**2, 0.0).sum(axis=1)
        numerator = product if numerator is None else numerator + product
        denominator = square if denominator is None else denominator + square
    if numerator is None:
        raise ConfigError("no usable time-series window with a target to fit persistence_weights on")
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = np.where(denominator > 0, numerator / denominator, 0.0)
    return [round(float(w), 6) for w in np.clip(weights, 0.0, 1.0)]
