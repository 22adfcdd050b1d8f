"""The shipped forecaster and example data: found by name, and skilful on the held-out hours it ships with."""

from __future__ import annotations

import pytest

from sciformer.checkpoint import load_checkpoint, resolve_model
from sciformer.plugins import PluginHost

from sciformer_weather import EXAMPLE
from sciformer_weather.evaluate import evaluate
from sciformer_weather.rollout import Forecaster
from sciformer_weather.sources import open_fields
from sciformer_weather.stats import compute_climatology


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def test_shipped_model_is_listed_with_its_example(host: PluginHost) -> None:
    shipped = host.shipped_models()["afno-era5-uk-t2m"]
    assert shipped.domain == "weather" and shipped.example == EXAMPLE
    assert EXAMPLE.stat().st_size < 300_000
    with open_fields(EXAMPLE) as fields:
        assert fields.grid.channels == ("t2m",) and len(fields) == 48


def test_shipped_model_beats_persistence_one_hour_ahead(host: PluginHost) -> None:
    """The shipped hours (2019-03-25/26) lie in the held-out test period of the model's recipe."""
    model = load_checkpoint(resolve_model("afno-era5-uk-t2m", host), host)
    forecaster = Forecaster(model)
    assert forecaster.options.time_features and forecaster.options.residual
    with open_fields(EXAMPLE) as fields:
        result = evaluate(forecaster, fields, [1], compute_climatology(fields, kind="hour"), start=0, stop=48)
    assert result.samples == 47
    assert result.rmse["model"][0, 0] < result.rmse["persistence"][0, 0]
    assert result.acc["model"][0, 0] > result.acc["persistence"][0, 0]


def test_score_writes_forecasts_in_physical_units(tmp_path) -> None:
    """`sciformer score` on the shipped model writes a de-normalised one-step forecast per record (one lead)."""
    import h5py
    import numpy as np

    from sciformer.plugins import PluginHost
    from sciformer.scoring import score

    host = PluginHost()
    model = host.shipped_models()["afno-era5-uk-t2m"]
    score(model.name, model.example, tmp_path / "out.h5", host)  # without `leads`: one model step, input-target pairs
    with h5py.File(tmp_path / "out.h5") as results, h5py.File(model.example) as source:
        assert results["forecast"].shape == (len(results["status"]), 1, 1, 33, 49)  # (N, lead, channel, lat, lon)
        assert list(results["forecast"].attrs["leads"]) == [1]
        forecast = results["forecast"][:, 0]
        assert list(results["forecast"].attrs["channels"]) == ["t2m"]
        truth = source["fields"][1 : 1 + len(forecast)]
        error = np.sqrt(np.mean((forecast - truth) ** 2))
        persistence = np.sqrt(np.mean((source["fields"][: len(forecast)] - truth) ** 2))
        assert 200 < forecast.mean() < 320, "kelvin, not normalised units"
        assert error < persistence, f"one-step RMSE {error:.3f} K must beat persistence {persistence:.3f} K"
