"""The shipped ERA5 temperature forecaster on its example (35 grid points of the test days), and the
per-step squared errors that `score` writes when asked."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from sciformer.plugins import PluginHost
from sciformer.scoring import score
from sciformer_timeseries import ERA5_GRID

FORECASTERS = ("model", "persistence", "seasonal")
OUTPUTS = ["forecast", "truth", *(f"{metric}_{name}" for metric in ("mse", "squared_error") for name in FORECASTERS)]


def test_grid_example_is_hourly_temperature_at_35_points() -> None:
    with h5py.File(ERA5_GRID) as handle:
        assert handle["t2m"].shape == (624, 5, 7) and handle["t2m"].attrs["units"] == "K"
        assert (np.diff(handle["time"][:]) == 3600).all()
        assert 250 < float(handle["t2m"][:].min()) < float(handle["t2m"][:].max()) < 300


def test_shipped_era5_forecaster_beats_both_naive_forecasts_on_its_example(tmp_path: Path, host: PluginHost) -> None:
    """patchtst-era5-uk-t2m on the test days (forecasts of hours 528-623, never used for a choice): the
    figures its recipe reports; the squared errors by step average to each forecaster's MSE."""
    shipped = host.shipped_models()["patchtst-era5-uk-t2m"]
    out = tmp_path / "era5.h5"
    summary = score(shipped.name, shipped.example, out, host, options=shipped.example_options, outputs=OUTPUTS)
    assert summary.scored == 140 and summary.bad == 0
    with h5py.File(out) as handle:
        assert handle["record_id"][0].decode() == "0,0@2019-03-23T00:00"
        skill = json.loads(handle.attrs["skill"])["scores"][0]
        squared = handle["squared_error_model"][:]
        np.testing.assert_allclose(squared, (handle["forecast"][:] - handle["truth"][:]) ** 2, rtol=1e-5, atol=1e-6)
        for name in FORECASTERS:
            by_step = handle[f"skill/squared_error_{name}"][:]
            assert by_step.shape == (24, 1) and handle[f"skill/squared_error_{name}"].attrs["layout"] == "(step, channel)"
            assert float(by_step.mean()) == pytest.approx(skill[f"mse_{name}"], rel=1e-6)
    assert skill["mse_model"] == pytest.approx(1.1371, rel=1e-3)
    assert skill["mse_model"] < skill["mse_seasonal"] < skill["mse_persistence"]


def test_shipped_era5_forecaster_starts_from_its_fitted_blend(host: PluginHost) -> None:
    """The fitted persistence weights fall from near 1 at the first hour, and the 24th step is the day-ago value."""
    config = json.loads((host.shipped_models()["patchtst-era5-uk-t2m"].path / "config.json").read_text())["model"]
    weights = config["domain_options"]["persistence_weights"]
    assert len(weights) == 24 and weights[0] > 0.9 and weights[-1] == 0.0 and all(0 <= w <= 1 for w in weights)
    assert weights[0] > weights[6] > weights[12]
