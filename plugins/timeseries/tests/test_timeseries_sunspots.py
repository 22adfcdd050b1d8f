"""The shipped yearly sunspot numbers and the baselines script's time split; the baseline script of forecast recipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer.testing.baselines import sample_data_report
from sciformer_timeseries import EXAMPLE

SUNSPOTS = EXAMPLE.parent / "sunspots.csv"
SCRIPT = EXAMPLE.parents[1] / "scripts" / "baselines_sunspots.py"


def yearly() -> np.ndarray:
    """(309, 2) rows of (year, sunspot number), parsed without the plugin."""
    return np.loadtxt(SUNSPOTS, delimiter=",", skiprows=1)


def test_sunspots_are_one_yearly_series(host: PluginHost) -> None:
    table = yearly()
    assert table.shape == (309, 2) and table[0, 0] == 1700 and table[-1, 0] == 2008
    assert (np.diff(table[:, 0]) == 1).all() and (table[:, 1] >= 0).all()
    windows = list(read_records(host, "timeseries", SUNSPOTS, {"context": 44, "horizon": 11, "stride": 100}))
    assert [w.id for w in windows] == ["sunspots@1744", "sunspots@1844", "sunspots@1944"]
    np.testing.assert_allclose(windows[2].target[:, 0], table[244:255, 1], rtol=1e-6)


def test_baselines_script_scores_the_last_years() -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--test", "20", "--json"], capture_output=True, text=True, check=True, timeout=300
    )
    report = json.loads(run.stdout)
    assert report["windows"] == ["sunspots@1989", "sunspots@1998"] and report["start"] == 309 - 20 - 44
    values = yearly()[:, 1]
    origins = np.arange(289, 299)  # forecasts of 1989 to 1998, each 11 years long, all inside the last 20 years
    truths = np.stack([values[o : o + 11] for o in origins])
    persistence = ((truths - values[origins - 1, None]) ** 2).mean(axis=1).mean()
    seasonal = np.abs(truths - np.stack([values[o - 11 : o] for o in origins])).mean(axis=1).mean()
    baselines = report["baselines"]
    np.testing.assert_allclose(baselines["persistence"]["mse"], persistence, rtol=1e-5)
    np.testing.assert_allclose(baselines["seasonal naive (11)"]["mae"], seasonal, rtol=1e-5)
    ets = baselines["ETS (damped trend, season 11)"]
    assert ets["windows"] + ets["failed"] == 10 and np.isfinite(ets["mse"])
    assert "--option start=245 --option season=11 --option ets=true" in report["score_options"]


def test_forecast_baseline_chooses_on_validation_and_scores_test_once(tmp_path: Path) -> None:
    """On a recipe splitting the shipped hourly table by time (its own options per split): every candidate's
    validation MSE, the best one's test MSE, recomputed here from the same windows."""
    recipe = {
        "model": {"domain": "timeseries", "task": "forecast"},
        "data": {"train": {"path": str(EXAMPLE), "options": {"stop": 480}}, "valid": {"path": str(EXAMPLE), "options": {"start": 312, "stop": 528}},
                 "test": {"path": str(EXAMPLE), "options": {"start": 360, "stride": 24}}, "options": {"context": 168, "horizon": 24}},
    }  # fmt: skip
    (tmp_path / "hourly.yaml").write_text(yaml.safe_dump(recipe))
    report = sample_data_report(SCRIPT.parent / "forecast_baseline.py", tmp_path / "hourly.yaml")
    assert set(report.candidates) == {"persistence", "seasonal naive (24)", "seasonal naive (168)"}
    assert report.chosen == min(report.candidates, key=report.candidates.get) and report.test_records == 4
    contexts = np.genfromtxt(EXAMPLE, delimiter=",", skip_header=1)[:, 1:]  # (624, 4)
    starts = [360, 384, 408, 432]
    truth = np.stack([contexts[s + 168 : s + 192] for s in starts])
    if report.chosen == "seasonal naive (24)":
        guess = np.stack([contexts[s + 144 : s + 168] for s in starts])
    elif report.chosen == "persistence":
        guess = np.stack([np.repeat(contexts[s + 167 : s + 168], 24, axis=0) for s in starts])
    else:
        guess = np.stack([contexts[s : s + 24] for s in starts])
    assert report.test == pytest.approx(float(np.mean((guess - truth) ** 2)), rel=1e-3)


def test_shipped_forecaster_scores_its_example_and_beats_the_baselines(tmp_path: Path, host: PluginHost) -> None:
    """patchtst-sunspots on its test windows (forecasts of 1949-2008, never used for a choice): the figures
    its recipe reports, below persistence and the 11-year seasonal naive."""
    shipped = host.shipped_models()["patchtst-sunspots"]
    summary = score(shipped.name, shipped.example, tmp_path / "sunspots.h5", host, options=shipped.example_options)
    assert summary.scored == 50 and summary.bad == 0
    with h5py.File(tmp_path / "sunspots.h5") as handle:
        skill = json.loads(handle.attrs["skill"])["scores"][0]
        assert handle["forecast"].shape == (50, 11, 1) and handle["record_id"][0].decode() == "sunspots@1949"
    assert skill["mse_model"] == pytest.approx(982.67, rel=1e-3)
    assert skill["mse_model"] < skill["mse_seasonal"] < skill["mse_persistence"]
