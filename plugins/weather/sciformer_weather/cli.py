"""`sciformer weather ...`: convert between field formats, channel statistics, forecast evaluation, forecast maps."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
from sciformer.cli.helpers import SciformerGroup
from sciformer.errors import ConfigError, InputFileError

from .stats import CLIMATOLOGY_KINDS, MIN_CLIMATOLOGY_DAYS, Climatology, compute_climatology, source_stats
from .suffixes import NETCDF_SUFFIXES, ZARR_SUFFIXES


def _options(variables: str | None, dataset: str | None = None) -> dict:
    options: dict = {}
    if variables:
        options["variables"] = tuple(v.strip() for v in variables.split(",") if v.strip())
    if dataset:
        options["dataset"] = dataset
    return options


def _period(text: str | None) -> tuple[int, int | None]:
    """'START:STOP' (either may be empty) -> (start, stop)."""
    if not text:
        return 0, None
    if ":" not in text:
        raise click.BadParameter(f"expected START:STOP time indices, got {text!r}")
    start, stop = text.split(":", 1)
    return int(start or 0), int(stop) if stop else None


@click.group(name="weather", cls=SciformerGroup)
def weather() -> None:
    """Weather fields: conversion, statistics, forecast evaluation and maps."""


@weather.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--variables", help="Comma-separated netCDF / zarr variables to become channels (default: every (time, lat, lon) variable).")
@click.option("--period", help="Time indices START:STOP to keep (default: all).")
@click.option("--attribute", "attributes", multiple=True, metavar="KEY=VALUE", help="File attribute to write (e.g. attribution text).")
@click.option("--no-compress", is_flag=True, help="Write uncompressed, as FourCastNet's files are.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
def convert(source: Path, out: Path, variables: str | None, period: str | None, attributes: tuple[str, ...], no_compress: bool, overwrite: bool) -> None:
    """Convert a field file SOURCE (netCDF, zarr store or HDF5) into FourCastNet-layout HDF5 OUT, or into CF
    netCDF / a zarr store when OUT ends in .nc / .zarr."""
    from .convert import write_fields
    from .sources import open_fields

    pairs = dict(a.split("=", 1) for a in attributes if "=" in a)
    if len(pairs) != len(attributes):
        raise click.BadParameter("--attribute expects KEY=VALUE")
    start, stop = _period(period)
    with open_fields(source, _options(variables)) as fields:
        written = write_fields(fields, out, start=start, stop=stop, attributes=pairs, compress=not no_compress, overwrite=overwrite)
        click.echo(f"wrote {written}: channels {list(fields.grid.channels)}, grid {fields.grid.shape}, {(stop or len(fields)) - start} time steps")


@weather.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--variables", help="netCDF / zarr variables (comma-separated).")
@click.option("--period", help="Training period as time indices START:STOP (default: all).")
@click.option("--climatology", "climatology_out", type=click.Path(path_type=Path), help="Also write the period's climatology to this HDF5 file.")
@click.option("--kind", type=click.Choice(CLIMATOLOGY_KINDS), default="mean", show_default=True, help="Climatology: period mean, or mean per UTC hour of day.")
def stats(source: Path, variables: str | None, period: str | None, climatology_out: Path | None, kind: str) -> None:
    """Per-channel mean and std of a training period (JSON ready for a recipe's model.domain_options)."""
    from .sources import open_fields

    start, stop = _period(period)
    with open_fields(source, _options(variables)) as fields:
        result = source_stats(fields, start, stop)
        if climatology_out is not None:
            compute_climatology(fields, start, stop, kind).save(climatology_out)
    click.echo(json.dumps({**result.as_options(), "count": list(result.count)}, indent=2))


@weather.command("evaluate")
@click.option("--model", required=True, help="Checkpoint directory or shipped model name.")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, path_type=Path), help="Field file (HDF5, netCDF, zarr store or selection).")
@click.option("--variables", help="netCDF / zarr variables (comma-separated; default: the model's channels).")
@click.option("--leads", default="1", show_default=True, help="Comma-separated lead times in time steps of the file.")
@click.option("--period", help="Evaluation period START:STOP (time indices); forecasts and truths lie inside it.")
@click.option("--climatology", "climatology_file", type=click.Path(exists=True, path_type=Path), help="Climatology file from `weather stats --climatology` (default: the model folder's climatology.h5).")
@click.option("--climatology-period", help=f"Or compute the climatology from these time indices START:STOP of the input (e.g. the training period; at least {MIN_CLIMATOLOGY_DAYS:g} days).")
@click.option("--climatology-kind", type=click.Choice(CLIMATOLOGY_KINDS), default="mean", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="Results HDF5 (the `sciformer score` layout): forecasts, truths, skill per record and in skill/.")
@click.option("--png", type=click.Path(path_type=Path), help="Maps of the first forecast at the longest lead.")
@click.option("--batch-size", default=16, show_default=True, help="Initial times forecast together.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "bfloat16"]), default="float32", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.pass_obj
def evaluate_command(host: object, model: str, input_path: Path, variables: str | None, leads: str, period: str | None, climatology_file: Path | None, climatology_period: str | None, climatology_kind: str, output: Path | None, png: Path | None, batch_size: int, device: str, dtype: str, overwrite: bool, as_json: bool) -> None:
    """Roll a forecaster out from every initial time of INPUT; latitude-weighted RMSE and ACC per lead and
    channel, next to persistence and climatology (a `sciformer score` run: one layout, one loop)."""
    from sciformer.checkpoint import read_checkpoint_info, resolve_model
    from sciformer.plugins import PluginHost

    from .evaluate import check_input, evaluate, period_climatology
    from .options import WeatherOptions
    from .plots import maps_from_results
    from .scoring import CLIMATOLOGY_FILE

    host = host if isinstance(host, PluginHost) else PluginHost()
    try:
        lead_steps = [int(v) for v in leads.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"--leads expects comma-separated integers, got {leads!r}") from None
    if png is not None and output is None:
        raise click.BadParameter("--png draws from the evaluation file: give --output too")
    folder = resolve_model(model, host)
    trained = WeatherOptions.from_config(read_checkpoint_info(folder).config)
    options = _options(variables or ",".join(trained.channels)) if input_path.suffix.lower() in (*NETCDF_SUFFIXES, *ZARR_SUFFIXES) else {}
    check_input(input_path, options, trained, folder.name)  # before a climatology is computed from it
    start, stop = _period(period)
    climatology_file = climatology_file or (folder / CLIMATOLOGY_FILE if climatology_period is None else None)
    if climatology_file is not None and not climatology_file.is_file():
        raise ConfigError(f"{folder} holds no {CLIMATOLOGY_FILE}: give --climatology FILE or --climatology-period START:STOP (ACC and the climatology baseline need one)")
    with tempfile.TemporaryDirectory(prefix="sciformer-evaluate-") as scratch:
        if climatology_file is None:  # kept beside --output, whose results name it
            climatology_file = Path(scratch) / CLIMATOLOGY_FILE if output is None else output.with_name(f"{output.stem}-climatology.h5")
            if output is not None and climatology_file.exists() and not overwrite:
                raise InputFileError(f"{climatology_file} exists; pass --overwrite to replace it")
            climatology = period_climatology(input_path, options, *_period(climatology_period), climatology_kind, climatology_file)
            origin = f"time indices {climatology_period} of the input"
        else:
            climatology = Climatology.load(climatology_file)
            origin = str(climatology_file)
        result = evaluate(folder, input_path, lead_steps, climatology_file, output or Path(scratch) / "evaluation.h5", host, options=options,
                          start=start, stop=stop, batch_size=batch_size, device=device, dtype=dtype, overwrite=overwrite)  # fmt: skip
    if png is not None and output is not None:
        maps_from_results(output, png)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    span = f", {climatology.days:g} days" if climatology.days is not None else ""
    click.echo(f"climatology: {origin} ({climatology.kind}{span})")
    click.echo(f"{result.samples} initial times ({result.skipped} skipped); RMSE / ACC per lead (time steps) and channel:")
    click.echo(f"{'lead':>5} {'channel':<10} {'model':>16} {'persistence':>16} {'climatology':>16}")
    for row in result.rows():
        cells = [f"{row[f'rmse_{n}']:8.4g} / {row[f'acc_{n}']:5.3f}" for n in ("model", "persistence", "climatology")]
        click.echo(f"{row['lead']:>5} {row['channel']:<10} " + " ".join(f"{c:>16}" for c in cells))
    if output is not None:
        click.echo(f"results -> {output}" + (f", maps -> {png}" if png else ""))


@weather.command()
@click.argument("results", type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="PNG to write.")
@click.option("--init", "row", default=0, show_default=True, help="Row of the file (an initial time).")
@click.option("--record", help="Record id (e.g. 2019-03-25T06:00), instead of --init.")
@click.option("--lead", type=int, help="Lead time in time steps (default: the longest in the file).")
@click.option("--channel", help="Channel name (default: the first).")
def plot(results: Path, out: Path, row: int, record: str | None, lead: int | None, channel: str | None) -> None:
    """Forecast, truth and error maps from RESULTS: a file of `weather evaluate --output`, or of
    `sciformer score --option leads=... --outputs forecast,truth`."""
    from .plots import maps_from_results

    click.echo(f"maps -> {maps_from_results(results, out, row=row, record=record, lead=lead, channel=channel)}")
