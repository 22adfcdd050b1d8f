"""`sciformer score` on a forecaster: forecasts, per-record errors of the model and the naive baselines, skill means."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer_timeseries import EXAMPLE
from sciformer_timeseries.baselines import channel_errors, persistence, seasonal_naive
from sciformer_timeseries.scoring import season_option


def test_baselines() -> None:
    context = np.arange(10.0).reshape(1, 10, 1)
    np.testing.assert_array_equal(persistence(context, 3)[0, :, 0], [9, 9, 9])
    np.testing.assert_array_equal(seasonal_naive(context, 7, 3)[0, :, 0], [7, 8, 9, 7, 8, 9, 7])
    errors = channel_errors(
        np.zeros((1, 2, 2)), np.array([[[1.0, np.nan], [3.0, np.nan]]]), np.array([[[True, False], [True, False]]])
    )
    np.testing.assert_allclose(errors["mse"][0, 0], 5.0)
    np.testing.assert_allclose(errors["mae"][0, 0], 2.0)
    assert np.isnan(errors["mse"][0, 1])


def test_season_must_fit_in_the_context() -> None:
    assert season_option({"season": "24"}, 48) == 24 and season_option({}, 48) is None
    with pytest.raises(ConfigError, match="between 1 and"):
        season_option({"season": 49}, 48)


def test_scores_and_skill(tmp_path: Path, host: PluginHost, model_dir: Path) -> None:
    output = tmp_path / "scores.h5"
    options = {"stride": 24, "season": 24, "value_columns": "london,edinburgh", "future": "true"}
    summary = score(model_dir, EXAMPLE, output, host, options=options, outputs=None)
    windows = list(read_records(host, "timeseries", EXAMPLE, {**options, "context": 48, "horizon": 12}))
    assert summary.scored == len(windows) and summary.bad == 0
    with h5py.File(output) as results:
        forecast, known = results["forecast"][:], [w.target is not None for w in windows]
        assert forecast.shape == (len(windows), 12, 2) and np.isfinite(forecast).all()
        contexts = np.stack([w.data.context for w in windows])[known]
        truths = np.stack([w.target for w in windows if w.target is not None])
        expected = channel_errors(seasonal_naive(contexts, 12, 24), truths, np.ones_like(truths, dtype=bool))
        np.testing.assert_allclose(results["mse_seasonal"][:][known], expected["mse"], rtol=1e-5)
        np.testing.assert_allclose(
            results["mae_model"][:][known],
            channel_errors(forecast[known], truths, np.ones_like(truths, dtype=bool))["mae"],
            rtol=1e-5,
        )
        assert np.isnan(results["mse_model"][-1]).all()  # the future window has no truth
        np.testing.assert_allclose(
            results["skill/mse_persistence"][:], results["mse_persistence"][:][known].mean(axis=0), rtol=1e-5
        )
        assert list(results["skill/samples"][:]) == [sum(known)] * 2
        skill = json.loads(results.attrs["skill"])
        assert skill["season"] == 24 and [row["channel"] for row in skill["scores"]] == ["london", "edinburgh"]
