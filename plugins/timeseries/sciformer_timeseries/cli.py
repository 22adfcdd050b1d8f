"""`sciformer timeseries ...`: forecast plots of scored windows."""

from __future__ import annotations

from pathlib import Path

import click
from sciformer.cli.helpers import SciformerGroup
from sciformer.plugins import PluginHost


@click.group(name="timeseries", cls=SciformerGroup)
def timeseries() -> None:
    """Time series: forecast plots."""


@timeseries.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
@click.option(
    "--record",
    "records",
    multiple=True,
    help="Record id to draw, SERIES@ORIGIN, e.g. sunspots@1990 (repeatable; default: the first scored record).",
)
@click.option("--channel", "channels", multiple=True, help="Channel to draw (repeatable; default: every channel).")
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, path_type=Path),
    help="The scored input file (default: the input the results file names).",
)
@click.pass_obj
def plot(
    host: object, results: Path, out: Path, records: tuple[str, ...], channels: tuple[str, ...], input_path: Path | None
) -> None:
    """Draw, from RESULTS of `sciformer score` with a forecaster, each chosen record's context, truth, the
    model's forecast and the baselines (persistence, seasonal naive with `season`, ETS with `ets`), one
    panel per record and channel."""
    from .plots import plot_forecasts

    host = host if isinstance(host, PluginHost) else PluginHost()
    click.echo(f"forecasts -> {plot_forecasts(host, results, out, records, input_path, channels)}")
