"""Naive forecasts to score a model against, and the per-channel errors of a forecast.

- persistence: every step of the horizon is the last context value;
- seasonal naive (period m, at most the context length): step h is the value m * ceil(h / m) steps
  before it, the same phase of the last season in the context.
"""

from __future__ import annotations

import numpy as np


def persistence(context: np.ndarray, horizon: int) -> np.ndarray:
    """(B, L, C) contexts -> (B, H, C): the last value repeated."""
    return np.repeat(context[:, -1:, :], horizon, axis=1)


def seasonal_sources(length: int, horizon: int, season: int) -> np.ndarray:
    """(H,) context steps that the seasonal naive forecast of each horizon step copies, in [L - m, L - 1]."""
    steps = np.arange(1, horizon + 1)
    return length - 1 + steps - season * np.ceil(steps / season).astype(int)


def seasonal_naive(context: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """(B, L, C) contexts -> (B, H, C): the value one or more whole seasons before each step."""
    return context[:, seasonal_sources(context.shape[1], horizon, season), :]


def channel_errors(forecast: np.ndarray, truth: np.ndarray, known: np.ndarray) -> dict[str, np.ndarray]:
    """MSE and MAE (B, C) of forecasts (B, H, C) over the `known` (B, H, C) truth values; NaN where none is known."""
    count = known.sum(axis=1)
    error = np.where(known, forecast - truth, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mse = np.where(count > 0, (error**2).sum(axis=1) / count, np.nan)
        mae = np.where(count > 0, np.abs(error).sum(axis=1) / count, np.nan)
    return {"mse": mse.astype(np.float32), "mae": mae.astype(np.float32)}
