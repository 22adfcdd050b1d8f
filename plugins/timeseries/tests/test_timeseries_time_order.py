"""Times must strictly increase: a series that goes back or repeats a time has every window bad, naming the row;
nothing is sorted. A CSV without a header row is refused."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer_timeseries import EXAMPLE
from sciformer_timeseries.time_order import order_problem

SUNSPOTS = EXAMPLE.parent / "sunspots.csv"
WINDOW = {"context": 4, "horizon": 2}


def sunspot_rows() -> tuple[str, list[str]]:
    """The header and the data rows of the shipped sunspot table."""
    header, *rows = SUNSPOTS.read_text().splitlines()
    return header, rows


def write(path: Path, header: str, rows: list[str]) -> Path:
    """`path` written as a table of `header` and `rows`."""
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def read(host: PluginHost, path: Path, **options: object) -> list:
    """Every record of `path` with the window options and `options`."""
    return list(read_records(host, "timeseries", path, {**WINDOW, **options}))


def test_order_problem_names_the_first_step_that_goes_back_or_repeats() -> None:
    def place(step: int) -> str:
        """Row numbers from 1, as the table readers name them."""
        return f"row {step + 1}"

    assert order_problem(["1", "2", "", "3"], place) is None  # an empty time is skipped
    assert order_problem(["1", "3", "2", "1"], place) == "times must increase: row 3 (2) comes after 3 (row 2)"
    assert order_problem(["1.0", "2", "2.0"], place) == "times must increase: time 2.0 appears twice (row 2 and row 3)"
    stamps = ["2019-03-01T10:00", "2019-03-01 11:00", "2019-03-01T10:30"]
    assert order_problem(stamps, place) == "times must increase: row 3 (2019-03-01T10:30) comes after 2019-03-01 11:00 (row 2)"
    assert order_problem(["Jan", "Mar", "Feb"], place) is None  # labels that cannot be ordered: only a repeat is refused
    assert order_problem(["Jan", "Feb", "Jan"], place) == "times must increase: time Jan appears twice (row 1 and row 3)"


def test_a_reversed_table_is_refused_window_by_window(tmp_path: Path, host: PluginHost, caplog: pytest.LogCaptureFixture) -> None:
    header, rows = sunspot_rows()
    path = write(tmp_path / "ss_rev.csv", header, rows[::-1])
    with caplog.at_level("WARNING"):
        records = read(host, path, stride=50, future="true")
    reason = "times must increase: row 2 (2007) comes after 2008 (row 1)"
    assert records and all(r.error == reason for r in records)  # the future window too
    assert f"{path}: {reason}; its windows are bad records" in caplog.text


def test_a_repeated_row_is_refused(tmp_path: Path, host: PluginHost) -> None:
    header, rows = sunspot_rows()
    path = write(tmp_path / "ss_dup.csv", header, rows[:199] + rows[198:])
    records = read(host, path, stride=50)
    assert records and all(r.error == "times must increase: time 1898 appears twice (row 199 and row 200)" for r in records)


def test_scoring_refuses_bad_times_and_scores_a_correct_table_as_before(tmp_path: Path, host: PluginHost) -> None:
    """patchtst-sunspots: the shipped table (a copy) scores its figure; reversed, every window is a bad record."""
    shipped = host.shipped_models()["patchtst-sunspots"]
    header, rows = sunspot_rows()
    good = score(shipped.name, write(tmp_path / "good.csv", header, rows), tmp_path / "good.h5", host, options=shipped.example_options)
    assert good.scored == 50 and good.bad == 0
    with h5py.File(tmp_path / "good.h5") as handle:
        assert json.loads(handle.attrs["skill"])["scores"][0]["mse_model"] == pytest.approx(982.67, rel=1e-3)
    reverse = score(shipped.name, write(tmp_path / "rev.csv", header, rows[::-1]), tmp_path / "rev.h5", host, options=shipped.example_options)
    assert reverse.scored == 0 and reverse.bad == 50
    with h5py.File(tmp_path / "rev.h5") as handle:
        assert b"times must increase: row 2 (2007)" in handle["error"][0]


def test_one_bad_series_of_a_long_table(tmp_path: Path, host: PluginHost, caplog: pytest.LogCaptureFixture) -> None:
    times = {"a": list(range(8)), "b": [0, 1, 2, 3, 5, 4, 6, 7]}
    rows = [f"{t},{name},{t}" for step in range(8) for name, ts in times.items() for t in [ts[step]]]  # interleaved
    path = write(tmp_path / "long.csv", "time,series,value", rows)
    with caplog.at_level("WARNING"):
        records = read(host, path, stride=2)
    assert [(r.id, r.error) for r in records if r.id.startswith("a@")] == [("a@4", None), ("a@6", None)]
    bad = [r for r in records if r.id.startswith("b@")]
    assert bad and all(r.error == "times must increase: row 12 (4) comes after 5 (row 10)" for r in bad)
    assert f"{path}: series 'b': times must increase" in caplog.text and "series 'a'" not in caplog.text


def test_parquet_with_a_repeated_time(tmp_path: Path, host: PluginHost) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "long.parquet"
    times = ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05", "2020-01-06", "2020-01-07"]
    pq.write_table(pa.table({"time": times * 2, "series": ["s"] * 7 + ["t"] * 7, "value": [float(v) for v in range(14)]}), path)
    assert [r.error for r in read(host, path, stride=3)] == [None, None]
    pq.write_table(pa.table({"time": times + times[:3] + times[2:6], "series": ["s"] * 7 + ["t"] * 7, "value": [0.0] * 14}), path)
    records = read(host, path, stride=3)
    assert records[0].error is None and records[1].error == "times must increase: time 2020-01-03 appears twice (row 10 and row 11)"


def test_hdf5_time_that_goes_back(tmp_path: Path, host: PluginHost) -> None:
    path = tmp_path / "grid.nc"
    with h5py.File(path, "w") as file:
        file["time"] = np.array([0, 1, 2, 3, 5, 4, 6, 7]) * 3600
        file["time"].attrs["units"] = "seconds since 2020-01-01 00:00:00"
        file["t2m"] = np.zeros((8, 2), dtype=np.float32)
    records = read(host, path, stride=2)
    assert len(records) == 4 and all(
        r.error == "times must increase: time step 5 (2020-01-01T04:00) comes after 2020-01-01T05:00 (time step 4)" for r in records
    )


def test_a_table_without_a_header_row_is_refused(tmp_path: Path, host: PluginHost) -> None:
    _, rows = sunspot_rows()
    path = write(tmp_path / "nohead.csv", rows[0], rows[1:])
    with pytest.raises(InputFileError, match=r"nohead.csv: the first row \(1700,5.0\) is all numbers, a data row, not a header"):
        read(host, path)
    numbered = write(tmp_path / "numbered.csv", "1,2", ["0.5,1.5"] * 8)  # numeric channel names, named by option
    with pytest.raises(InputFileError, match="the option time_column or value_columns"):
        read(host, numbered)
    assert [r.data.channels for r in read(host, numbered, value_columns="1,2")] == [("1", "2")] * 3
