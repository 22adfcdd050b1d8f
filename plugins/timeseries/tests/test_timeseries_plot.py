"""`sciformer timeseries plot`: panels of scored windows, and the inputs it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner, Result
from sciformer.cli.main import build_cli
from sciformer.plugins import PluginHost
from sciformer.scoring import score
from sciformer_timeseries import EXAMPLE
from sciformer_timeseries.plots import forecast_figure

pytest.importorskip("matplotlib")
SUNSPOTS = EXAMPLE.parent / "sunspots.csv"
FIRST, LAST = "era5_t2m_uk_hourly@2019-03-03T00:00", "era5_t2m_uk_hourly@2019-03-26T23:00+1"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, host: PluginHost, model_dir: Path) -> Path:
    """Forecasts of every 48th window of two channels, with the seasonal and ETS baselines and a future window."""
    output = tmp_path_factory.mktemp("plot") / "scores.h5"
    options = {"stride": 48, "season": 24, "value_columns": "london,edinburgh", "future": "true", "ets": "true"}
    score(model_dir, EXAMPLE, output, host, options=options, outputs=None)
    return output


def plot(host: PluginHost, *args: str) -> Result:
    return CliRunner().invoke(build_cli(host), ["timeseries", "plot", *args], obj=host)


def test_writes_a_png(tmp_path: Path, host: PluginHost, results: Path) -> None:
    out = tmp_path / "figures" / "forecasts.png"
    result = plot(host, str(results), "--out", str(out), "--record", FIRST, "--record", LAST)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000


def test_one_panel_per_record_and_channel_with_every_forecaster(host: PluginHost, results: Path) -> None:
    figure = forecast_figure(host, results, [FIRST, LAST])
    assert len(figure.axes) == 4
    assert [axis.get_title().split(";")[0] for axis in figure.axes[:2]] == [f"{FIRST}, london", f"{FIRST}, edinburgh"]
    labels = [line.get_label() for line in figure.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert labels == ["context", "truth", "model", "persistence", "seasonal naive (24)", "ETS"]
    future = [line.get_label() for line in figure.axes[2].get_lines()]
    assert "truth" not in future and "model" in future  # the future window has no truth
    assert len(forecast_figure(host, results, channels=["edinburgh"]).axes) == 1  # the first scored record


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--record", "london@2019-03-05T00:00"], "record 'london@2019-03-05T00:00' is not in"),
        (["--channel", "paris"], "channel(s) ['paris'] are not in"),
        (["--input", str(SUNSPOTS)], "column(s) ['london', 'edinburgh'] not found"),
    ],
)
def test_refuses_what_is_not_in_the_file(tmp_path: Path, host: PluginHost, results: Path, args: list[str], message: str) -> None:
    result = plot(host, str(results), "--out", str(tmp_path / "out.png"), *args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.png").exists()


def test_refuses_files_not_written_by_a_forecaster(tmp_path: Path, host: PluginHost) -> None:
    other = tmp_path / "text.h5"
    with h5py.File(other, "w") as handle:
        handle.attrs["model_config"] = json.dumps({"domain": "text"})
        handle["record_id"] = ["a"]
        handle["embedding"] = [[0.0]]
    result = plot(host, str(other), "--out", str(tmp_path / "out.png"))
    assert result.exit_code == 1 and "written by a text model, not a timeseries forecaster" in result.output
    result = plot(host, str(EXAMPLE), "--out", str(tmp_path / "out.png"))
    assert result.exit_code == 1 and "not a readable HDF5 file" in result.output


def test_asks_for_the_input_when_the_recorded_one_is_gone(tmp_path: Path, host: PluginHost, model_dir: Path) -> None:
    moved = tmp_path / "series.csv"
    moved.write_bytes(EXAMPLE.read_bytes())
    output = tmp_path / "scores.h5"
    score(model_dir, moved, output, host, options={"stride": 96, "value_columns": "london,edinburgh"}, outputs=None)
    moved.unlink()
    result = plot(host, str(output), "--out", str(tmp_path / "out.png"))
    assert result.exit_code == 1 and "give the scored file with --input" in result.output
    renamed = plot(host, str(output), "--out", str(tmp_path / "out.png"), "--input", str(EXAMPLE))
    assert renamed.exit_code == 1 and "are not windows of" in renamed.output  # record ids carry the file's name
