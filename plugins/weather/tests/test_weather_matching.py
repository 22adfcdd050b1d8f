"""Inputs in other units or on another grid than the model's are refused, in one line, never forecast.

The files are the first 12 hours of the shipped ERA5 subset as they are, in degC, and upside down
(latitudes south to north with the rows flipped to match); one carries no units or coordinates, one
is netCDF in degC. `weather evaluate` refuses them before any work; `sciformer score` and the Python
API give each of their records status 1 with the reason."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import sciformer
import xarray as xr
from click.testing import CliRunner
from sciformer.checkpoint import resolve_model
from sciformer.cli.main import build_cli
from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost
from sciformer.scoring import score
from sciformer_weather import EXAMPLE
from sciformer_weather.evaluate import evaluate
from sciformer_weather.grid import GridInfo
from sciformer_weather.matching import mismatch
from sciformer_weather.options import WeatherOptions
from sciformer_weather.scoring import CLIMATOLOGY_FILE

MODEL = "afno-era5-uk-t2m"
HOURS = 12
DEGC = "channel t2m is in degC in {}; {} was trained on K"
FLIPPED = "the latitudes of {} run south to north; {} was trained north to south"


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture(scope="module")
def climatology(host: PluginHost) -> Path:
    return resolve_model(MODEL, host) / CLIMATOLOGY_FILE


@pytest.fixture(scope="module")
def era5() -> dict:
    with h5py.File(EXAMPLE) as source:
        return {name: source[name][:HOURS] if name in ("fields", "time") else source[name][:] for name in ("fields", "latitude", "longitude", "time")} | {
            "time_attrs": dict(source["time"].attrs)
        }


def write(path: Path, era5: dict, fields: np.ndarray, *, units: str | None = "K", latitudes: np.ndarray | None = None, coordinates: bool = True) -> Path:
    """A FourCastNet-layout copy of the hours with the given fields, units and latitudes."""
    with h5py.File(path, "w") as out:
        data = out.create_dataset("fields", data=fields)
        data.attrs["channels"] = np.array(["t2m"], dtype=object)
        if units is not None:
            data.attrs["units"] = np.array([units], dtype=object)
        if coordinates:
            out["latitude"] = era5["latitude"] if latitudes is None else latitudes
            out["longitude"] = era5["longitude"]
        out.create_dataset("time", data=era5["time"]).attrs.update(era5["time_attrs"])
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, era5: dict) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("weather-matching")
    x = era5["fields"]
    return {
        "ref": write(folder / "wx_ref.h5", era5, x),
        "degC": write(folder / "wx_degC.h5", era5, x - 273.15, units="degC"),
        "flip": write(folder / "wx_flip.h5", era5, np.ascontiguousarray(x[:, :, ::-1]), latitudes=np.ascontiguousarray(era5["latitude"][::-1])),
        "bare": write(folder / "wx_bare.h5", era5, x, units=None, coordinates=False),
    }


def score_cli(host: PluginHost, path: Path, output: Path) -> dict[str, np.ndarray]:
    """`sciformer score` of `path`; the status, error and forecast columns of its results file."""
    result = CliRunner().invoke(build_cli(host), ["score", "--model", MODEL, "--input", str(path), "--output", str(output)], obj=host)
    assert result.exit_code == 0, result.output
    with h5py.File(output) as results:
        return {"status": results["status"][:], "error": results["error"].asstr()[:], "forecast": results["forecast"][:]}


def test_a_file_in_the_model_units_and_grid_scores_as_before(files: dict[str, Path], host: PluginHost, tmp_path: Path) -> None:
    """The copy, and the copy without units or coordinates, forecast exactly what the shipped file's first hours do."""
    before = score(MODEL, EXAMPLE, tmp_path / "shipped.h5", host, options={"stop": HOURS})
    assert before.scored == HOURS - 1
    with h5py.File(tmp_path / "shipped.h5") as shipped:
        expected = shipped["forecast"][:]
    for name in ("ref", "bare"):
        columns = score_cli(host, files[name], tmp_path / f"{name}.h5")
        assert (columns["status"] == 0).all() and len(columns["status"]) == HOURS - 1, columns["error"]
        np.testing.assert_array_equal(columns["forecast"], expected, err_msg=name)


@pytest.mark.parametrize(("name", "message"), [("degC", DEGC), ("flip", FLIPPED)])
def test_evaluate_refuses_other_units_or_grid_before_any_work(
    files: dict[str, Path], host: PluginHost, climatology: Path, tmp_path: Path, name: str, message: str
) -> None:
    """In one line naming the file and the model; neither the results nor a climatology of the period is written."""
    output = tmp_path / "eval.h5"
    args = ["weather", "evaluate", "--model", MODEL, "--input", str(files[name]), "--leads", "1", "--output", str(output), "--climatology-period", "0:12"]
    result = CliRunner().invoke(build_cli(host), args, obj=host)
    assert result.exit_code != 0 and not isinstance(result.exception, AssertionError)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"Error: {message.format(files[name], MODEL)}"], result.output
    assert not list(tmp_path.iterdir())
    with pytest.raises(InputFileError, match="was trained"):
        evaluate(MODEL, files[name], [1], climatology, tmp_path / "api.h5", host)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("name", "message"), [("degC", DEGC), ("flip", FLIPPED)])
def test_score_and_the_python_api_give_every_record_the_reason(files: dict[str, Path], host: PluginHost, tmp_path: Path, name: str, message: str) -> None:
    """No forecast is written for a file in other units or on another grid: each record is bad (status 1) with the one line."""
    reason = message.format(files[name], "the model")
    columns = score_cli(host, files[name], tmp_path / "out.h5")
    assert (columns["status"] == 1).all() and set(columns["error"]) == {reason}
    assert np.isnan(columns["forecast"]).all()
    predictions = sciformer.load(MODEL, host=host).predict(files[name])
    assert len(predictions) == HOURS - 1 and all(p.status == 1 and p.error == reason and not p.outputs for p in predictions)


def test_netcdf_units_are_compared(era5: dict, host: PluginHost, climatology: Path, tmp_path: Path) -> None:
    """A netCDF variable's `units` attribute is its channel's units: degC is refused, K (any spelling) scores."""
    grid = ("time", "latitude", "longitude")
    coordinates = {"time": era5["time"].astype("datetime64[s]"), "latitude": era5["latitude"], "longitude": era5["longitude"]}
    for units, values in (("degC", era5["fields"][:, 0] - 273.15), ("kelvin", era5["fields"][:, 0])):
        path = tmp_path / f"t2m_{units}.nc"
        xr.Dataset({"t2m": (grid, values, {"units": units})}, coordinates).to_netcdf(path, engine="h5netcdf")
        if units == "degC":
            with pytest.raises(InputFileError, match=f"^{DEGC.format(path, MODEL)}$"):
                evaluate(MODEL, path, [1], climatology, tmp_path / "eval.h5", host)
            summary = score(MODEL, path, tmp_path / "degC.h5", host)
            assert (summary.scored, summary.bad) == (0, HOURS - 1)
        else:
            summary = score(MODEL, path, tmp_path / "kelvin.h5", host)
            assert (summary.scored, summary.bad) == (HOURS - 1, 0)
    assert not (tmp_path / "eval.h5").exists()


def options(latitudes: list[float], longitudes: list[float], units: tuple[str, ...] | None = ("K",)) -> WeatherOptions:
    domain = {"channels": ["t2m"], "grid": [len(latitudes), len(longitudes)], "latitudes": latitudes, "longitudes": longitudes, "units": list(units or [])}
    return WeatherOptions.from_config(ModelConfig(domain="weather", dim=16, heads=2, task="forecast", domain_options=domain))


def test_what_differs_is_named_and_what_is_not_given_is_not_compared() -> None:
    """Count, order and values of latitudes and longitudes; longitudes modulo 360; rounding to float32 passes."""
    model = options([60.0, 59.5, 59.0], [-1.0, -0.5, 0.0, 0.5])

    def grid(latitudes: list[float] | None = None, longitudes: list[float] | None = None, units: tuple[str, ...] | None = ("K",)) -> GridInfo:
        return GridInfo(("t2m",), (3, 4), None if latitudes is None else tuple(latitudes), None if longitudes is None else tuple(longitudes), None, units)

    same = grid([60.0, 59.5, 59.0], [-1.0, -0.5, 0.0, 0.5])
    assert mismatch(same, model, "f.h5") is None
    assert mismatch(grid(list(np.float32([60.0, 59.5, 59.0]) + np.float32(1e-5)), [359.0, 359.5, 0.0, 0.5]), model, "f.h5") is None
    assert mismatch(grid(units=None), model, "f.h5") is None and mismatch(grid(units=("",)), model, "f.h5") is None
    assert mismatch(grid(units=("kelvin",)), model, "f.h5") is None
    assert mismatch(same, options([60.0, 59.5, 59.0], [-1.0, -0.5, 0.0, 0.5], units=None), "f.h5") is None
    assert mismatch(grid(units=("degC",)), model, "f.h5", "m") == "channel t2m is in degC in f.h5; m was trained on K"
    assert mismatch(grid([59.0, 59.5, 60.0]), model, "f.h5", "m") == "the latitudes of f.h5 run south to north; m was trained north to south"
    assert mismatch(grid(longitudes=[0.5, 0.0, -0.5, -1.0]), model, "f.h5", "m") == "the longitudes of f.h5 run east to west; m was trained west to east"
    assert mismatch(grid([60.0, 59.5]), model, "f.h5", "m") == "f.h5 has 2 latitudes; m was trained on 3"
    assert mismatch(grid([60.0, float("nan"), 59.0]), model, "f.h5", "m") == "the latitudes of f.h5 are not all finite; m was trained on 60 to 59"
    shifted = mismatch(grid(longitudes=[-0.5, 0.0, 0.5, 1.0]), model, "f.h5", "m")
    assert shifted == "the longitudes of f.h5 (-0.5 to 1) differ from those m was trained on (-1 to 0.5) by up to 0.5 degrees"
