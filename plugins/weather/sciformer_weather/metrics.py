"""Forecast skill: latitude-weighted RMSE and anomaly correlation (ACC), as FourCastNet and WeatherBench score.

For a forecast f, truth t, climatology c and latitude weights w (cos(lat), mean 1), per sample and channel:

    RMSE = sqrt( mean_{lat,lon} w (f - t)^2 )
    ACC  = sum w (f - c)(t - c) / sqrt( sum w (f - c)^2 * sum w (t - c)^2 )

Scores are averaged over samples. Points that are not finite in the truth are left out. A forecast with
no anomaly anywhere (the climatology itself) has ACC 0 by this definition.
"""

from __future__ import annotations

import numpy as np


def weighted_rmse(forecast: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(..., C, H, W) fields and (H,) latitude weights -> (..., C) RMSE per sample and channel."""
    w = _point_weights(truth, weights)
    error = np.where(w > 0, forecast - truth, 0.0) ** 2
    return np.sqrt((w * error).sum(axis=(-2, -1)) / np.maximum(w.sum(axis=(-2, -1)), 1e-12))


def weighted_acc(forecast: np.ndarray, truth: np.ndarray, climatology: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(..., C, H, W) fields, climatology broadcastable to them, (H,) weights -> (..., C) ACC."""
    w = _point_weights(truth, weights) * np.isfinite(climatology)
    f = np.where(w > 0, forecast - climatology, 0.0)
    t = np.where(w > 0, truth - climatology, 0.0)
    numerator = (w * f * t).sum(axis=(-2, -1))
    denominator = np.sqrt((w * f * f).sum(axis=(-2, -1)) * (w * t * t).sum(axis=(-2, -1)))
    return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), 0.0)


def _point_weights(truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-point weights (..., C, H, W): the row weight where the truth is finite, 0 elsewhere."""
    return np.asarray(weights, dtype=np.float64)[:, None] * np.isfinite(truth)
