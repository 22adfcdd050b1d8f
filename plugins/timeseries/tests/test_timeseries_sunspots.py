"""The shipped yearly sunspot numbers and the baselines script's time split."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
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
