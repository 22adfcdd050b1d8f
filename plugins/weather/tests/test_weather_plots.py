"""Forecast maps say what they show: leads in hours and the channel's units on the colour bars."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from sciformer.errors import InputFileError
from sciformer_weather.plots import maps_from_results, results_figure

LATITUDES = [52.0, 51.5, 51.0]
LONGITUDES = [-1.0, -0.5, 0.0, 0.5]


def score_file(path: Path, *, hours: bool = True, units: bool = True) -> Path:
    """A small `sciformer score` file: 2 records, leads 1 and 6 steps, one channel t2m on a 3 x 4 grid."""
    fields = np.linspace(270.0, 290.0, 2 * 2 * 1 * 3 * 4, dtype=np.float32).reshape(2, 2, 1, 3, 4)
    with h5py.File(path, "w") as handle:
        handle["record_id"] = np.array(["2019-03-25T06:00", "2019-03-25T07:00"], dtype=object)
        handle["status"] = np.zeros(2, dtype=np.int8)
        for name, values in (("forecast", fields), ("truth", fields + 0.5)):
            data = handle.create_dataset(name, data=values)
            data.attrs.update({"channels": ["t2m"], "leads": [1, 6], "latitudes": LATITUDES, "longitudes": LONGITUDES})
            if hours:
                data.attrs["lead_hours"] = [1.0, 6.0]
            if units:
                data.attrs["channel_units"] = ["K"]
    return path


def test_maps_give_the_lead_in_hours_and_units_on_the_colour_bars(tmp_path: Path) -> None:
    figure = results_figure(score_file(tmp_path / "scores.h5"), record="2019-03-25T06:00", lead=6)
    title = figure.get_suptitle()
    assert "lead 6 h" in title and title.endswith("0.5 K")
    main, bars = figure.axes[:3], figure.axes[3:]
    assert [axes.get_title() for axes in main] == ["forecast", "truth", "forecast - truth"]
    assert [bar.get_ylabel() for bar in bars] == ["t2m (K)", "t2m (K)", "error (K)"]
    assert main[0].get_xlabel() == "longitude (degrees east)" and main[0].get_ylabel() == "latitude (degrees north)"
    png = maps_from_results(tmp_path / "scores.h5", tmp_path / "maps" / "t2m.png", lead=6)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_maps_of_a_file_without_hours_or_units_say_so(tmp_path: Path) -> None:
    figure = results_figure(score_file(tmp_path / "bare.h5", hours=False, units=False), lead=1)
    assert "lead 1 step(s) (hours unknown)" in figure.get_suptitle()
    assert [bar.get_ylabel() for bar in figure.axes[3:]] == ["t2m", "t2m", "error"]


def test_maps_need_a_results_file_with_record_ids(tmp_path: Path) -> None:
    """Only the score layout (`sciformer score`, `weather evaluate --output`) is read: rows are records."""
    with h5py.File(tmp_path / "bare.h5", "w") as handle:
        handle["forecast"] = handle["truth"] = np.zeros((1, 1, 1, 3, 4), dtype=np.float32)
    with pytest.raises(InputFileError, match="needs record_id, forecast and truth"):
        results_figure(tmp_path / "bare.h5")
