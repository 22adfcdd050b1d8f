"""Scores as CF netCDF: the shipped hours scored, exported, and opened with xarray."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.plugins import PluginHost
from sciformer.scoring import score
from sciformer_weather import EXAMPLE
from sciformer_weather.cf_export import export_netcdf

MODEL = "afno-era5-uk-t2m"
HOURS = 48
OUTPUTS = ["init_time", "forecast", "truth", "rmse_model", "acc_model", "rmse_persistence"]


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory, host: PluginHost) -> Path:
    """The shipped hours scored at leads 1 and 6 h, with truths and skill."""
    output = tmp_path_factory.mktemp("weather-export") / "scores.h5"
    summary = score(MODEL, EXAMPLE, output, host, options={"leads": "1,6"}, outputs=OUTPUTS)
    assert summary.scored == HOURS
    return output


def test_export_has_cf_coordinates_units_and_the_scored_values(scored: Path, tmp_path: Path) -> None:
    target = tmp_path / "scores.nc"
    export_netcdf(scored, target)
    with xr.open_dataset(target) as exported, h5py.File(scored) as results, h5py.File(EXAMPLE) as source:
        assert exported.attrs["Conventions"].startswith("CF-")
        assert dict(exported.sizes) == {"time": HOURS, "lead": 2, "latitude": 33, "longitude": 49, "channel": 1}
        np.testing.assert_array_equal(exported["time"].values, source["time"][:].astype("datetime64[s]"))
        assert exported["time"].attrs["standard_name"] == "forecast_reference_time"
        assert list(exported["lead"].values) == [np.timedelta64(1, "h"), np.timedelta64(6, "h")]
        assert exported["valid_time"].values[0, 1] == np.datetime64("2019-03-25T06:00")
        np.testing.assert_array_equal(exported["latitude"].values, source["latitude"][:])
        np.testing.assert_array_equal(exported["longitude"].values, source["longitude"][:])
        assert exported["latitude"].attrs["units"] == "degrees_north" and exported["longitude"].attrs["units"] == "degrees_east"
        assert exported["t2m"].dims == ("time", "lead", "latitude", "longitude") and exported["t2m"].attrs["units"] == "K"
        np.testing.assert_array_equal(exported["t2m"].values, results["forecast"][:, :, 0])
        np.testing.assert_array_equal(exported["t2m_truth"].values, results["truth"][:, :, 0])
        np.testing.assert_array_equal(exported["rmse_model"].values, results["rmse_model"][:])
        assert exported["rmse_model"].attrs["units"] == "K" and exported["acc_model"].attrs["units"] == "1"
        np.testing.assert_array_equal(exported["skill_rmse_model"].values, results["skill/rmse_model"][:])
        assert list(exported["skill_samples"].values) == [47, 42]
        assert list(exported["record_id"].values[:2]) == ["2019-03-25T00:00", "2019-03-25T01:00"]
    with h5py.File(target) as raw:
        assert raw["lead"].attrs["units"] in ("hours", b"hours")  # CF: a duration in hours


def test_rows_not_scored_are_left_out_and_unknown_times_give_a_record_dimension(scored: Path, tmp_path: Path) -> None:
    changed = tmp_path / "changed.h5"
    shutil.copy(scored, changed)
    with h5py.File(changed, "r+") as results:
        results["status"][3] = 1  # a bad record
        results["init_time"][5] = np.nan  # an input without a time stamp
    target = tmp_path / "changed.nc"
    export_netcdf(changed, target)
    with xr.open_dataset(target) as exported, h5py.File(scored) as results:
        assert exported["t2m"].dims[0] == "record" and exported.sizes["record"] == HOURS - 1
        assert exported.attrs["rows_not_scored"] == 1 and "2019-03-25T03:00" not in exported["record_id"].values
        np.testing.assert_array_equal(exported["t2m"].values[3], results["forecast"][4, :, 0])


def test_score_writes_netcdf_by_the_output_suffix(tmp_path: Path, host: PluginHost) -> None:
    output = tmp_path / "scores.nc"
    args = ["score", "--model", MODEL, "--input", str(EXAMPLE), "--option", "leads=1,6", "--output", str(output)]
    result = CliRunner().invoke(build_cli(host), args, obj=host)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.nc"]
    with xr.open_dataset(output) as exported:
        assert exported["t2m"].shape == (HOURS, 2, 33, 49) and exported["t2m"].attrs["units"] == "K"
        assert {"skill_rmse_model", "skill_acc_model", "skill_rmse_climatology"} <= set(exported.data_vars)


def test_skill_columns_alone_export_with_their_leads_and_channels(scored: Path, tmp_path: Path) -> None:
    skill_only = tmp_path / "skill.h5"
    shutil.copy(scored, skill_only)
    with h5py.File(skill_only, "r+") as results:
        del results["forecast"], results["truth"]
    export_netcdf(skill_only, tmp_path / "skill.nc")
    with xr.open_dataset(tmp_path / "skill.nc") as exported:
        assert "t2m" not in exported and exported["rmse_model"].dims == ("time", "lead", "channel")
        assert list(exported["lead_step"].values) == [1, 6] and list(exported["channel"].values) == ["t2m"]
