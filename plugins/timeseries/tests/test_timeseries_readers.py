"""The time-series readers: wide and long tables, Parquet, HDF5 / netCDF-4, windows, time splits and missing values."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reader_options import check_options
from sciformer.reading import read_records
from sciformer_timeseries import EXAMPLE
from sciformer_timeseries.series import Window

ERA5 = Path("/work/shared/data/weather/era5_t2m_uk_2019-03.nc")  # the shared ERA5 subset, where this machine has it
WINDOW = {"context": 4, "horizon": 2}


def read(host: PluginHost, path: Path, **options: object) -> list:
    """Every record of `path` with the window options and `options`."""
    return list(read_records(host, "timeseries", path, {**WINDOW, **options}))


def test_wide_table_is_one_multichannel_series(host: PluginHost) -> None:
    records = read(host, EXAMPLE, stride=24, value_columns="london,edinburgh,cardiff")
    first = records[0]
    assert isinstance(first.data, Window) and first.data.channels == ("london", "edinburgh", "cardiff")
    assert first.id == "era5_t2m_uk_hourly@2019-03-01T04:00"
    assert first.data.context.shape == (4, 3) and first.target.shape == (2, 3)
    assert len(records) == len(range(0, 624 - 6 + 1, 24))


def test_windows_are_views_of_the_series(host: PluginHost) -> None:
    records = read(host, EXAMPLE, stride=1)
    assert records[0].data.context.base is not None and np.shares_memory(records[0].data.context, records[1].data.context)


def test_long_table_holds_series_of_different_lengths(tmp_path: Path, host: PluginHost) -> None:
    rows = [f"{t},a,{t}.5" for t in range(8)] + [f"{t},b,{-t}" for t in range(10)]
    path = tmp_path / "long.tsv"
    path.write_text("time\tseries\tvalue\n" + "\n".join(row.replace(",", "\t") for row in rows) + "\n")
    records = read(host, path, stride=2)
    assert [r.id for r in records] == ["a@4", "a@6", "b@4", "b@6", "b@8"]
    np.testing.assert_array_equal(records[-1].target[:, 0], [-8.0, -9.0])


def test_a_series_too_short_for_a_window_is_named(tmp_path: Path, host: PluginHost, caplog: pytest.LogCaptureFixture) -> None:
    rows = [f"{t},a,{t}" for t in range(8)] + [f"{t},b,{t}" for t in range(5)]
    path = tmp_path / "long.csv"
    path.write_text("time,series,value\n" + "\n".join(rows) + "\n")
    with caplog.at_level("WARNING"):
        assert [r.id for r in read(host, path, stride=2)] == ["a@4", "a@6"]
    assert "series 'b': 5 step(s) in [0, 5) hold no window of 6 steps (context 4 + horizon 2); option future=true forecasts" in caplog.text
    assert [r.id for r in read(host, path, stride=2, future="true")][-1] == "b@4+1"


def test_start_and_stop_split_by_time(host: PluginHost) -> None:
    early = read(host, EXAMPLE, stride=6, stop=300)
    late = read(host, EXAMPLE, stride=6, start=300)
    assert early[-1].data.origin == "2019-03-13T10:00" and early[-1].target.shape == (2, 4)  # targets end before step 300
    assert late[0].data.origin == "2019-03-13T16:00"  # contexts start at step 300
    assert len(read(host, EXAMPLE, stride=6, stop=-324)) == len(early)


def test_missing_values_make_bad_records_or_are_filled(tmp_path: Path, host: PluginHost) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("time,x\n" + "\n".join(f"{t},{'' if t == 5 else t}" for t in range(12)) + "\n")
    bad = [r for r in read(host, path) if r.error]
    assert [r.id for r in bad] == ["gaps@4", "gaps@5", "gaps@6", "gaps@7", "gaps@8", "gaps@9"]
    assert "1 missing value(s), the first at 5" in bad[0].error
    filled = read(host, path, nan_policy="fill")
    assert not any(r.error for r in filled) and np.isnan(filled[2].data.context[3, 0])


def test_a_cell_that_is_not_a_number_spoils_only_its_windows(tmp_path: Path, host: PluginHost) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("x\n" + "\n".join("abc" if t == 9 else str(t) for t in range(12)) + "\n")
    records = read(host, path, nan_policy="fill")
    assert [r.id for r in records if r.error] == ["broken@8", "broken@9", "broken@10"]
    assert "row 10: column 'x': 'abc' is not a number" in records[4].error


def test_future_adds_a_last_window_without_target(host: PluginHost) -> None:
    records = read(host, EXAMPLE, stride=100, future="true")
    assert records[-1].target is None and records[-1].id == "era5_t2m_uk_hourly@2019-03-26T23:00+1"  # one step after the last
    assert records[-1].data.context.shape == (4, 4)


def test_parquet_reads_as_csv(tmp_path: Path, host: PluginHost) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "long.parquet"
    pq.write_table(
        pa.table({"time": list(range(7)) * 2, "series": ["s"] * 7 + ["t"] * 7, "value": [float(v) for v in range(14)]}), path
    )
    records = read(host, path, stride=3)
    assert [r.id for r in records] == ["s@4", "t@4"]
    np.testing.assert_array_equal(records[1].data.context[:, 0], [7.0, 8.0, 9.0, 10.0])


def test_hdf5_grid_points_are_series(tmp_path: Path, host: PluginHost) -> None:
    path = tmp_path / "grid.nc"
    with h5py.File(path, "w") as file:
        file["time"] = np.arange(8) * 3600
        file["time"].attrs["units"] = "seconds since 2020-01-01 00:00:00"
        file["t2m"] = np.arange(8 * 2 * 3, dtype=np.float32).reshape(8, 2, 3)
        file["t2m"].attrs["_FillValue"] = np.float32(-9999.0)
        file["t2m"][7, 1, 2] = -9999.0
    records = read(host, path, stride=2)
    assert records[0].id == "0,0@2020-01-01T04:00" and records[0].data.channels == ("t2m",)
    assert len(records) == 6 * 2 and [r.id for r in records if r.error] == ["1,2@2020-01-01T06:00"]


@pytest.mark.skipif(not ERA5.is_file(), reason="the shared ERA5 file is not on this machine")
def test_shared_era5_file_gives_1617_hourly_series(host: PluginHost) -> None:
    records = read(host, ERA5, context=336, horizon=288)
    assert len(records) == 1617 and records[0].id == "0,0@2019-03-15T00:00"
    assert records[0].data.context.shape == (336, 1)


def test_options_are_declared_per_reader(host: PluginHost) -> None:
    table, hdf5 = host.reader_for("timeseries", EXAMPLE), host.reader_for("timeseries", Path("x.h5"))
    check_options(table, {"stride": 2, "season": 24, "value_columns": "london"})
    with pytest.raises(ConfigError, match="does not accept option"):
        check_options(table, {"variables": "t2m"})
    with pytest.raises(ConfigError, match="setting of the model"):
        check_options(hdf5, {"context": 4})


def test_bad_options_and_columns_are_refused(host: PluginHost) -> None:
    with pytest.raises(ConfigError, match="nan_policy"):
        read(host, EXAMPLE, nan_policy="drop")
    with pytest.raises(ConfigError, match="context"):
        list(read_records(host, "timeseries", EXAMPLE, {"horizon": 2}))
    with pytest.raises(InputFileError, match="not found"):
        read(host, EXAMPLE, value_columns="paris")
