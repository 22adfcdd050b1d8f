"""Latitude-weighted RMSE and anomaly correlation, checked against direct formulas."""

from __future__ import annotations

import numpy as np
import pytest
from sciformer_weather.grid import latitude_weights
from sciformer_weather.metrics import weighted_acc, weighted_rmse


@pytest.fixture
def grid() -> dict:
    rng = np.random.default_rng(0)
    truth = 280 + rng.normal(size=(3, 2, 4, 5))  # (N, C, H, W)
    return {"truth": truth, "forecast": truth + rng.normal(scale=0.5, size=truth.shape), "clim": np.full((2, 4, 5), 280.0), "lat": np.array([60.0, 45.0, 30.0, 0.0])}


def test_rmse_with_uniform_weights_is_the_plain_rmse(grid: dict) -> None:
    rmse = weighted_rmse(grid["forecast"], grid["truth"], np.ones(4))
    expected = np.sqrt(((grid["forecast"] - grid["truth"]) ** 2).mean(axis=(-2, -1)))
    np.testing.assert_allclose(rmse, expected)
    assert rmse.shape == (3, 2)


def test_rmse_weights_rows_by_cos_latitude(grid: dict) -> None:
    weights = latitude_weights(grid["lat"], 4)
    rmse = weighted_rmse(grid["forecast"], grid["truth"], weights)
    squared = (grid["forecast"] - grid["truth"]) ** 2
    cos = np.cos(np.deg2rad(grid["lat"]))
    expected = np.sqrt((squared * cos[:, None]).sum(axis=(-2, -1)) / (cos.sum() * 5))
    np.testing.assert_allclose(rmse, expected)


def test_acc_of_perfect_opposite_and_climatological_forecasts(grid: dict) -> None:
    weights = latitude_weights(grid["lat"], 4)
    truth, clim = grid["truth"], grid["clim"]
    np.testing.assert_allclose(weighted_acc(truth, truth, clim, weights), 1.0)
    np.testing.assert_allclose(weighted_acc(2 * clim - truth, truth, clim, weights), -1.0)
    np.testing.assert_array_equal(weighted_acc(np.broadcast_to(clim, truth.shape), truth, clim, weights), 0.0)
    acc = weighted_acc(grid["forecast"], truth, clim, weights)
    f, t = grid["forecast"][0, 1] - 280, truth[0, 1] - 280
    w = weights[:, None]
    assert acc[0, 1] == pytest.approx((w * f * t).sum() / np.sqrt((w * f * f).sum() * (w * t * t).sum()))


def test_points_missing_in_the_truth_are_left_out(grid: dict) -> None:
    truth = grid["truth"].copy()
    truth[0, 0, 1, 1] = np.nan
    rmse = weighted_rmse(grid["forecast"], truth, np.ones(4))
    keep = np.ones((4, 5), dtype=bool)
    keep[1, 1] = False
    expected = np.sqrt(((grid["forecast"][0, 0] - grid["truth"][0, 0])[keep] ** 2).mean())
    assert rmse[0, 0] == pytest.approx(expected)
    assert np.isfinite(weighted_acc(grid["forecast"], truth, grid["clim"], np.ones(4))).all()
