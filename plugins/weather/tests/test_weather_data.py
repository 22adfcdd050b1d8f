"""Reading fields: the shipped HDF5 subset, netCDF4 and netCDF3 (packed), what xarray writes (netCDF and
zarr), folders of files, selections, conversion, statistics, climatology and the NaN policies."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import xarray as xr
from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError, ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer_weather import EXAMPLE
from sciformer_weather.convert import write_fields
from sciformer_weather.grid import latitude_weights
from sciformer_weather.normalise import Normaliser
from sciformer_weather.options import WeatherOptions
from sciformer_weather.prepare import complete_config
from sciformer_weather.sources import FieldRef, open_fields
from sciformer_weather.stats import Climatology, compute_climatology, source_stats
from sciformer_weather.tokenizer import FieldTokenizer


@pytest.fixture(scope="module")
def era5() -> dict:
    """The shipped 48 hours of ERA5 t2m with coordinates and times."""
    with h5py.File(EXAMPLE) as handle:
        return {"fields": handle["fields"][:], "lat": handle["latitude"][:], "lon": handle["longitude"][:], "time": handle["time"][:]}


def write_netcdf4(path: Path, era5: dict) -> Path:
    """A netCDF4-style file (HDF5 with CF variables) as netCDF4 libraries write it."""
    with h5py.File(path, "w") as out:
        out.create_dataset("latitude", data=era5["lat"]).attrs["units"] = "degrees_north"
        out.create_dataset("longitude", data=era5["lon"]).attrs["units"] = "degrees_east"
        hours = (era5["time"] - era5["time"][0]) // 3600 + 8
        time = out.create_dataset("time", data=hours.astype(np.int32))
        time.attrs["units"] = np.bytes_(b"hours since 2019-03-24 16:00:00.0")
        out.create_dataset("t2m", data=era5["fields"][:, 0], chunks=(48, 33, 49), compression="gzip")
    return path


def write_netcdf3(path: Path, era5: dict) -> Path:
    """A packed netCDF3 file: int16 values with scale_factor / add_offset and a _FillValue hole."""
    from scipy.io import netcdf_file

    values = era5["fields"][:, 0].astype(np.float64)
    scale, offset = 0.001, 280.0
    packed = np.round((values - offset) / scale).astype(np.int16)
    packed[0, 0, 0] = -32767
    with netcdf_file(path, "w") as out:
        out.createDimension("time", values.shape[0])
        out.createDimension("latitude", values.shape[1])
        out.createDimension("longitude", values.shape[2])
        lat = out.createVariable("latitude", "f8", ("latitude",))
        lat[:] = era5["lat"]
        lon = out.createVariable("longitude", "f8", ("longitude",))
        lon[:] = era5["lon"]
        time = out.createVariable("time", "i4", ("time",))
        time[:] = (era5["time"] - era5["time"][0]) // 3600
        time.units = b"hours since 2019-03-25 00:00:00"
        t2m = out.createVariable("t2m", "i2", ("time", "latitude", "longitude"))
        t2m[:] = packed
        t2m.scale_factor = scale
        t2m.add_offset = offset
        t2m._FillValue = np.int16(-32767)
    return path


def test_shipped_file_gives_lazy_pairs(era5: dict) -> None:
    records = list(read_records(PluginHost(), "weather", EXAMPLE))
    assert len(records) == 47  # 48 hours, each paired with the next
    assert records[0].id == "2019-03-25T00:00" and records[-1].id == "2019-03-26T22:00"
    assert isinstance(records[0].data, FieldRef)
    np.testing.assert_array_equal(records[5].data.load(), era5["fields"][5])
    np.testing.assert_array_equal(records[5].target.load(), era5["fields"][6])
    at_six = list(read_records(PluginHost(), "weather", EXAMPLE, {"lead": 6}))
    assert len(at_six) == 42 and at_six[0].target.index == 6
    inputs_only = list(read_records(PluginHost(), "weather", EXAMPLE, {"lead": 0}))
    assert len(inputs_only) == 48 and inputs_only[0].target is None


def test_rollout_records_carry_a_target_per_step(era5: dict) -> None:
    records = list(read_records(PluginHost(), "weather", EXAMPLE, {"lead": 2, "rollout": 3}))
    assert len(records) == 42  # every input whose targets at +2, +4 and +6 h lie in the 48 hours
    assert [ref.index for ref in records[5].target.fields] == [7, 9, 11]
    config = complete_config(ModelConfig(domain="weather", dim=32), records)
    assert config.domain_options["step"] == 2 and config.domain_options["step_hours"] == 2.0
    encoded = FieldTokenizer(config).encode(records[5])
    assert encoded.target.shape == (3, 1, 33, 49) and encoded.target_mask is None
    normaliser = Normaliser.of(WeatherOptions.from_config(config))
    np.testing.assert_allclose(encoded.target[2].numpy(), normaliser.forward(era5["fields"][11]), rtol=1e-6)
    for bad in ("0", "x"):
        with pytest.raises(ConfigError, match="rollout"):
            list(read_records(PluginHost(), "weather", EXAMPLE, {"rollout": bad}))
    with pytest.raises(ConfigError, match="rollout needs a lead"):
        list(read_records(PluginHost(), "weather", EXAMPLE, {"lead": 0, "rollout": 2}))


def test_netcdf4_and_packed_netcdf3_read_the_same_values(tmp_path: Path, era5: dict) -> None:
    with open_fields(write_netcdf4(tmp_path / "a.nc", era5)) as nc4:
        assert nc4.grid.channels == ("t2m",)
        assert nc4.grid.times[0] == int(era5["time"][0])  # 8 h after 2019-03-24 16:00
        np.testing.assert_array_equal(nc4.read(3), era5["fields"][3])
    with open_fields(write_netcdf3(tmp_path / "b.nc", era5), {"variables": "t2m"}) as nc3:
        fields = nc3.read(0, 48)
        assert np.isnan(fields[0, 0, 0, 0])  # the fill value
        assert nc3.grid.time_label(0) == "2019-03-25T00:00"
        np.testing.assert_allclose(fields[1:], era5["fields"][1:], atol=6e-4)  # packing precision: scale / 2


def cf_dataset(era5: dict) -> xr.Dataset:
    """The shipped hours as xarray holds them: CF time, coordinates and units, and a second channel."""
    grid = ("time", "latitude", "longitude")
    return xr.Dataset(
        {"t2m": (grid, era5["fields"][:, 0], {"units": "K"}), "t2m_minus_1": (grid, era5["fields"][:, 0] - 1, {"units": "K"})},
        {"time": era5["time"].astype("datetime64[s]"), "latitude": era5["lat"], "longitude": era5["lon"]},
    )


@pytest.mark.parametrize("name", ["era5.nc", "era5.zarr"])
def test_what_xarray_writes_reads_with_every_option(tmp_path: Path, era5: dict, name: str) -> None:
    """netCDF files and zarr stores (folders) written by xarray give the same records, coordinates,
    time stamps and units, with `variables`, `start` / `stop`, `leads`."""
    path = tmp_path / name
    dataset = cf_dataset(era5)
    dataset.to_zarr(path, zarr_format=2) if name.endswith(".zarr") else dataset.to_netcdf(path, engine="h5netcdf")
    records = list(read_records(PluginHost(), "weather", path, {"variables": "t2m", "start": 2, "stop": 10}))
    assert len(records) == 7 and records[0].id == "2019-03-25T02:00"
    grid = records[0].data.grid
    assert grid.channels == ("t2m",) and grid.units == ("K",) and grid.latitudes[0] == 58.0 and grid.longitudes[-1] == 2.0
    np.testing.assert_array_equal(records[0].data.load(), era5["fields"][2])
    np.testing.assert_array_equal(records[0].target.load(), era5["fields"][3])
    scoring = list(read_records(PluginHost(), "weather", path, {"leads": "1,6"}))
    assert len(scoring) == 48 and scoring[42].target.fields[1] is None
    with open_fields(path) as both:
        assert both.grid.channels == ("t2m", "t2m_minus_1") and both.grid.times[0] == int(era5["time"][0])
        np.testing.assert_array_equal(both.read(5)[1], era5["fields"][5, 0] - 1)
    with pytest.raises(InputFileError, match="no variable"):
        open_fields(path, {"variables": "sst"})


def test_convert_to_cf_netcdf_and_zarr(tmp_path: Path, era5: dict) -> None:
    """`weather convert` writes a CF netCDF file or zarr store that xarray opens with time, coordinates and units."""
    from click.testing import CliRunner
    from sciformer_weather.cli import weather

    for name in ("era5.nc", "era5.zarr"):
        out = tmp_path / name
        result = CliRunner().invoke(weather, ["convert", str(EXAMPLE), str(out), "--period", "2:10"])
        assert result.exit_code == 0, result.output
        opener = xr.open_zarr if name.endswith(".zarr") else xr.open_dataset
        with opener(out) as dataset:
            assert dataset["t2m"].dims == ("time", "latitude", "longitude") and dataset["t2m"].attrs["units"] == "K"
            np.testing.assert_array_equal(dataset["t2m"].values, era5["fields"][2:10, 0])
            np.testing.assert_array_equal(dataset["time"].values, era5["time"][2:10].astype("datetime64[s]"))
            assert dataset["latitude"].attrs["units"] == "degrees_north" and dataset.attrs["Conventions"].startswith("CF-")
        with open_fields(out) as again:
            np.testing.assert_array_equal(again.read(0, 8), era5["fields"][2:10])
    assert not list(tmp_path.glob("*.partial"))


def test_convert_command_round_trip(tmp_path: Path, era5: dict) -> None:
    from click.testing import CliRunner
    from sciformer_weather.cli import weather

    source = write_netcdf4(tmp_path / "era5.nc", era5)
    out = tmp_path / "era5.h5"
    result = CliRunner().invoke(weather, ["convert", str(source), str(out), "--variables", "t2m", "--period", "2:10", "--attribute", "licence=C3S"])
    assert result.exit_code == 0, result.output
    with h5py.File(out) as handle:
        assert handle["fields"].shape == (8, 1, 33, 49)
        assert list(handle["fields"].attrs["channels"]) == ["t2m"] and "units" not in handle["fields"].attrs
        assert handle.attrs["licence"] == "C3S"
        np.testing.assert_array_equal(handle["fields"][:], era5["fields"][2:10])
        np.testing.assert_array_equal(handle["time"][:], era5["time"][2:10])
    again = CliRunner().invoke(weather, ["convert", str(source), str(out)])
    assert again.exit_code != 0 and "exists" in again.output


def test_folder_of_files_never_pairs_across_files(tmp_path: Path) -> None:
    folder = tmp_path / "years"
    folder.mkdir()
    with open_fields(EXAMPLE) as source:
        write_fields(source, folder / "2019a.h5", start=0, stop=24)
        write_fields(source, folder / "2019b.h5", start=24, stop=48)
    records = list(read_records(PluginHost(), "weather", folder))
    assert len(records) == 46
    assert records[0].id == "2019a/2019-03-25T00:00" and records[23].id == "2019b/2019-03-26T00:00"


def test_selection_file_windows_a_source(tmp_path: Path, era5: dict) -> None:
    selection = tmp_path / "valid.json"
    selection.write_text(json.dumps({"source": str(EXAMPLE), "start": 10, "stop": 20}))
    records = list(read_records(PluginHost(), "weather", selection))
    assert len(records) == 9 and records[0].id == "2019-03-25T10:00"
    np.testing.assert_array_equal(records[0].data.load(), era5["fields"][10])
    selection.write_text(json.dumps({"source": str(EXAMPLE), "start": 10, "stop": 99}))
    with pytest.raises(InputFileError, match="outside"):
        list(read_records(PluginHost(), "weather", selection))


def test_missing_dataset_is_a_file_error(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "x.h5", "w") as handle:
        handle.create_dataset("other", data=np.zeros((2, 1, 3, 3), dtype=np.float32))
    with pytest.raises(InputFileError, match="no dataset 'fields'"):
        list(read_records(PluginHost(), "weather", tmp_path / "x.h5"))


def test_statistics_and_climatology(tmp_path: Path, era5: dict) -> None:
    fields = era5["fields"].astype(np.float64)
    with open_fields(EXAMPLE) as source:
        stats = source_stats(source, 0, 24)
        mean_clim = compute_climatology(source, 0, 48, "mean")
        hourly = compute_climatology(source, 0, 48, "hour")
    assert stats.mean[0] == pytest.approx(fields[:24].mean(), rel=1e-9)
    assert stats.std[0] == pytest.approx(fields[:24].std(), rel=1e-6)
    np.testing.assert_allclose(mean_clim.fields[0], fields.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(hourly.fields[5], (fields[5] + fields[29]) / 2, rtol=1e-6)
    saved = Climatology.load(hourly.save(tmp_path / "clim.h5"))
    assert saved.kind == "hour" and saved.channels == ("t2m",) and saved.days == 2.0
    np.testing.assert_array_equal(saved.at(np.array([5, 6]), 2), hourly.fields[[5, 6]])


def test_stats_command_prints_recipe_options() -> None:
    from click.testing import CliRunner
    from sciformer_weather.cli import weather

    result = CliRunner().invoke(weather, ["stats", str(EXAMPLE), "--period", "0:24"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["channels"] == ["t2m"] and printed["count"] == [24 * 33 * 49]


def test_prepare_config_learns_grid_and_statistics(era5: dict) -> None:
    records = list(read_records(PluginHost(), "weather", EXAMPLE, {"lead": 2}))
    config = complete_config(ModelConfig(domain="weather", dim=32), records)
    options = config.domain_options
    assert options["grid"] == [33, 49] and options["channels"] == ["t2m"] and options["step"] == 2
    assert options["latitudes"][0] == 58.0 and len(options["longitudes"]) == 49
    assert options["mean"][0] == pytest.approx(era5["fields"][:46].astype(np.float64).mean(), rel=1e-9)
    kept = complete_config(ModelConfig(domain="weather", dim=32, domain_options={"mean": [280.0], "std": [2.0]}), records)
    assert kept.domain_options["mean"] == [280.0]


def test_latitude_weights() -> None:
    weights = latitude_weights((60.0, 0.0, -60.0), 3)
    np.testing.assert_allclose(weights, np.array([0.5, 1.0, 0.5]) / (2 / 3))
    assert weights.mean() == pytest.approx(1.0)
    np.testing.assert_array_equal(latitude_weights(None, 4), np.ones(4))


def _config(policy: str) -> ModelConfig:
    return ModelConfig(domain="weather", dim=32, domain_options={"channels": ["t2m"], "grid": [33, 49], "mean": [280.0], "std": [2.0], "nan_policy": policy})


def test_nan_is_a_bad_record_by_default(era5: dict) -> None:
    holes = era5["fields"][0].copy()
    holes[0, 1, 2] = np.nan
    tokenizer = FieldTokenizer(_config("bad"))
    with pytest.raises(BadRecordError, match="non-finite") as error:
        tokenizer.encode(Record("hole", holes, target=era5["fields"][1]))
    assert error.value.record_id == "hole"
    with pytest.raises(BadRecordError, match="shape"):
        tokenizer.encode(Record("small", era5["fields"][0][:, :10]))


def test_nan_fill_masks_the_target(era5: dict) -> None:
    tokenizer = FieldTokenizer(_config("fill"))
    source, target = era5["fields"][0].copy(), era5["fields"][1].copy()
    source[0, 1, 2] = np.inf
    target[0, 3, 4] = np.nan
    encoded = tokenizer.encode(Record("gappy", source, target=target))
    assert encoded.features[0, 1, 2] == 0.0  # the channel mean, normalised
    batch = tokenizer.collate([encoded, tokenizer.encode(Record("full", era5["fields"][0], target=era5["fields"][1]))], ["gappy", "full"])
    mask = batch.extras["target_mask"]
    assert not mask[0, 0, 3, 4] and mask.sum() == mask.numel() - 1
    assert torch.isfinite(batch.targets).all()
    assert batch.features.shape == (2, 1, 33, 49) and batch.padding_mask.shape == (2, 9 * 13)


def test_cached_reads_cross_blocks_and_equal_direct_reads(era5: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fields read through the per-process cache, in and out of order across blocks of 5 steps, equal the file's."""
    from sciformer_weather.sources import SourceCache, source_spec

    monkeypatch.setattr(SourceCache, "BLOCK_STEPS", 5)
    cache = SourceCache()
    spec = source_spec(EXAMPLE, {})
    for index in [0, 4, 5, 3, 47, 46, 12]:
        np.testing.assert_array_equal(cache.read(spec, index), era5["fields"][index])
    first, block = next(iter(cache._blocks.values()))
    assert (first, len(block)) == (12, 5)
    cache.clear()
