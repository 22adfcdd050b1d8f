"""The shipped forecaster and example data: found by name, and skilful on the held-out hours it ships with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sciformer.checkpoint import load_checkpoint, resolve_model
from sciformer.plugins import PluginHost
from sciformer_weather import EXAMPLE
from sciformer_weather.evaluate import evaluate
from sciformer_weather.options import WeatherOptions
from sciformer_weather.scoring import CLIMATOLOGY_FILE
from sciformer_weather.sources import open_fields
from sciformer_weather.stats import compute_climatology


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture(scope="module")
def model_dir(host: PluginHost) -> Path:
    return resolve_model("afno-era5-uk-t2m", host)


def test_shipped_model_is_listed_with_its_example(host: PluginHost) -> None:
    shipped = host.shipped_models()["afno-era5-uk-t2m"]
    assert shipped.domain == "weather" and shipped.example == EXAMPLE
    assert EXAMPLE.stat().st_size < 300_000
    with open_fields(EXAMPLE) as fields:
        assert fields.grid.channels == ("t2m",) and len(fields) == 48


def test_shipped_model_beats_persistence_one_hour_ahead(host: PluginHost, model_dir: Path, tmp_path: Path) -> None:
    """The shipped hours (2019-03-25/26) lie in the held-out test period of the model's recipe."""
    options = WeatherOptions.from_config(load_checkpoint(model_dir, host).config)
    assert options.time_features and options.residual
    result = evaluate(model_dir, EXAMPLE, [1], model_dir / CLIMATOLOGY_FILE, tmp_path / "eval.h5", host)
    assert result.samples == 47
    assert result.rmse["model"][0, 0] < result.rmse["persistence"][0, 0]
    assert result.acc["model"][0, 0] > result.acc["persistence"][0, 0]


def test_evaluate_uses_the_model_climatology_and_refuses_a_short_one() -> None:
    """`weather evaluate` scores ACC against the model's climatology of its 21 training days by default;
    a climatology of the evaluated 48 hours themselves (ACC near 0 or -1) is refused."""
    from click.testing import CliRunner
    from sciformer_weather.cli import weather

    command = ["evaluate", "--model", "afno-era5-uk-t2m", "--input", str(EXAMPLE), "--leads", "1,6", "--json"]
    result = CliRunner().invoke(weather, command)
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output[result.output.index("{") :])["scores"]
    assert [row["lead"] for row in scores] == [1, 6]
    assert all(0.4 < row["acc_model"] < 1 and row["acc_model"] > row["acc_persistence"] for row in scores), scores
    short = CliRunner().invoke(weather, [*command, "--climatology-period", "0:48", "--climatology-kind", "hour"])
    assert short.exit_code != 0 and "averages 2 day(s)" in short.output
    with open_fields(EXAMPLE) as fields:
        assert compute_climatology(fields, 0, 48, "hour").days == 2.0


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
