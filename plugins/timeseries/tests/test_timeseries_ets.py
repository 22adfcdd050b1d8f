"""The exponential-smoothing baseline: fits, failures as counted NaN, and its columns in `sciformer score`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer_timeseries import EXAMPLE
from sciformer_timeseries.baselines import channel_errors
from sciformer_timeseries.ets import ets_forecast, fit_channel, seasonal_period
from sciformer_timeseries.scoring import ets_option

holtwinters = pytest.importorskip("statsmodels.tsa.holtwinters")
OPTIONS = {"stride": 48, "season": 24, "value_columns": "london,edinburgh", "future": "true", "ets": "true"}


def seasonal_series(length: int, season: int = 12, seed: int = 0) -> np.ndarray:
    """A trend plus a sine of period `season` plus small noise, around 100."""
    steps = np.arange(length)
    noise = np.random.default_rng(seed).normal(0.0, 0.05, length)
    return 100.0 + 0.1 * steps + 3.0 * np.sin(2 * np.pi * steps / season) + noise


def test_season_only_when_the_context_holds_two() -> None:
    assert seasonal_period(48, 24) == 24
    assert seasonal_period(47, 24) is None
    assert seasonal_period(48, None) is None
    assert seasonal_period(48, 1) is None


def test_ets_follows_trend_and_season() -> None:
    series = seasonal_series(60)
    truth = series[48:]
    seasonal, reason = fit_channel(series[:48], 12, 12)
    plain, _ = fit_channel(series[:48], 12, None)
    assert reason is None
    assert np.abs(seasonal - truth).mean() < 0.3  # the sine's amplitude is 3
    assert np.abs(plain - truth).mean() > 3 * np.abs(seasonal - truth).mean()


def test_ets_is_equivariant_to_units() -> None:
    series = seasonal_series(48)
    forecast, _ = fit_channel(series, 6, 12)
    scaled, _ = fit_channel(series * 1e6 - 3e7, 6, 12)
    np.testing.assert_allclose(scaled, forecast * 1e6 - 3e7, rtol=1e-6)


def test_constant_context_forecasts_its_value() -> None:
    forecasts = ets_forecast(np.full((2, 30, 1), 7.5), 4, 12)
    np.testing.assert_array_equal(forecasts.values, np.full((2, 4, 1), 7.5))
    assert not forecasts.failures


def test_a_failing_fit_is_nan_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: Any, *args: Any, **kwargs: Any) -> None:
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(holtwinters.ExponentialSmoothing, "fit", fail)
    forecasts = ets_forecast(np.stack([seasonal_series(48), seasonal_series(48, seed=1)], axis=-1)[None], 5, 12)
    assert np.isnan(forecasts.values).all()
    assert set(forecasts.failures) == {(0, 0), (0, 1)}
    assert "LinAlgError: singular matrix" in forecasts.failures[(0, 0)]


def test_a_fit_that_does_not_converge_is_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    fit = holtwinters.ExponentialSmoothing.fit

    def unconverged(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = fit(self, *args, **kwargs)
        result.mle_retvals.success = False
        result.mle_retvals.message = "ABNORMAL"
        return result

    monkeypatch.setattr(holtwinters.ExponentialSmoothing, "fit", unconverged)
    forecast, reason = fit_channel(seasonal_series(48), 5, 12)
    assert forecast is None and reason == "the fit did not converge (ABNORMAL)"


def test_ets_option() -> None:
    assert ets_option({"ets": "true"}) and ets_option({"ets": True}) and not ets_option({})
    with pytest.raises(ConfigError, match="ets must be true or false"):
        ets_option({"ets": "sometimes"})


def test_scores_with_ets(tmp_path: Path, host: PluginHost, model_dir: Path) -> None:
    output = tmp_path / "scores.h5"
    score(model_dir, EXAMPLE, output, host, options=OPTIONS, outputs=None)
    windows = list(read_records(host, "timeseries", EXAMPLE, {**OPTIONS, "context": 48, "horizon": 12}))
    known = np.array([w.target is not None for w in windows])
    contexts = np.stack([w.data.context for w in windows])[known]
    truths = np.stack([w.target for w in windows if w.target is not None])
    expected = channel_errors(ets_forecast(contexts, 12, 24).values, truths, np.ones_like(truths, dtype=bool))
    with h5py.File(output) as results:
        np.testing.assert_allclose(results["mse_ets"][:][known], expected["mse"], rtol=1e-5)
        np.testing.assert_allclose(results["mae_ets"][:][known], expected["mae"], rtol=1e-5)
        assert np.isnan(results["mse_ets"][-1]).all()  # the future window has no truth
        np.testing.assert_allclose(results["skill/mse_ets"][:], expected["mse"].mean(axis=0), rtol=1e-5)
        assert list(results["skill/ets_failed"][:]) == [0, 0]
        skill = json.loads(results.attrs["skill"])
        assert "additive season of 24 steps" in skill["ets"] and skill["ets_failed"] == [0, 0]
        assert all(row["mae_ets"] > 0 for row in skill["scores"])


def test_failed_fits_are_left_out_of_skill_with_a_warning(
    tmp_path: Path, host: PluginHost, model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fit = holtwinters.ExponentialSmoothing.fit

    def fail_when_ending_low(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.endog[-1] < 0:  # the context is standardised: it ends below its mean
            raise ValueError("cannot fit")
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(holtwinters.ExponentialSmoothing, "fit", fail_when_ending_low)
    output = tmp_path / "scores.h5"
    with caplog.at_level(logging.WARNING):
        score(model_dir, EXAMPLE, output, host, options={**OPTIONS, "future": "false"}, outputs=None)
    with h5py.File(output) as results:
        ets, model = results["mse_ets"][:], results["mse_model"][:]
        failed = np.isnan(ets).sum(axis=0)
        assert failed.sum() > 0 and np.isfinite(model).all()
        assert list(results["skill/ets_failed"][:]) == failed.tolist()
        kept = np.where(np.isnan(ets), 0.0, ets).sum(axis=0) / (len(ets) - failed)
        np.testing.assert_allclose(results["skill/mse_ets"][:], kept, rtol=1e-5)
    assert f"ETS baseline: {failed.tolist()} fit(s) per channel failed" in caplog.text
    assert "ValueError: cannot fit" in caplog.text


def test_listing_and_importing_the_plugin_leaves_statsmodels_and_matplotlib_out() -> None:
    code = (
        "import sys; from sciformer.plugins import PluginHost; "
        "import sciformer_timeseries.scoring, sciformer_timeseries.cli; "
        "PluginHost().domain('timeseries').readers(); "
        "print(sorted(m for m in ('statsmodels', 'matplotlib') if m in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"
