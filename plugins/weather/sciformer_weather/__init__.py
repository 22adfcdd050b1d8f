"""The `weather` domain: gridded fields as patches mixed by AFNO's Fourier filter (FourCastNet)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sciformer
from sciformer.cli.lazy import LazyCommand
from sciformer.domain import Domain, RecordReader, ShippedModel, WeightImporter
from sciformer.export import ResultExporter
from sciformer.lazy import LazyFunction

from .options import DEFAULT_CONFIG, DOMAIN, TASK, WeatherOptions
from .reader_options import HDF5_OPTIONS, SELECTION_OPTIONS, XARRAY_OPTIONS
from .suffixes import HDF5_SUFFIXES, NETCDF_SUFFIXES, SELECTION_SUFFIXES, ZARR_SUFFIXES

if TYPE_CHECKING:
    import click
    from sciformer.config import ModelConfig
    from sciformer.data.batch import TokenBatch
    from sciformer.engine.heads import Head
    from sciformer.engine.model import SciformerModel
    from sciformer.engine.parts import MixerParts
    from sciformer.records import ExampleRecords, Record
    from sciformer.scoring.scorer import Scorer
    from torch import Tensor, nn

    from .tokenizer import FieldTokenizer

HERE = Path(__file__).parent
PLUGIN_ROOT = HERE.parent
EXAMPLE = PLUGIN_ROOT / "data" / "era5_t2m_uk_48h.h5"

# the reader and importer are imported when used, so that listing them imports neither h5py nor torch
read_field_records = LazyFunction("sciformer_weather.reader:read_field_records")
import_afno = LazyFunction("sciformer_weather.importer:import_afno")
export_netcdf = LazyFunction("sciformer_weather.cf_export:export_netcdf")


class WeatherDomain(Domain):
    """Gridded fields as patch tokens mixed by AFNO's Fourier filter, forecasting the field `lead` steps later."""

    name = DOMAIN
    record_type = "a gridded (channel, lat, lon) field at one time, with the field `lead` steps later as target"
    summary = "Weather and climate fields as patch tokens mixed by AFNO (FourCastNet); forecasting with rollout."
    tasks = (TASK,)
    default_config = DEFAULT_CONFIG

    def readers(self) -> list[RecordReader]:
        """FourCastNet-layout HDF5 (a file, or a folder of one file per period), netCDF, zarr stores and selection files."""
        return [
            RecordReader("weather-hdf5", DOMAIN, (*HDF5_SUFFIXES, "/"), read_field_records, "dataset `fields` (time, channel, lat, lon); a folder: one file per period, or a zarr store when it ends in .zarr", options=HDF5_OPTIONS),
            RecordReader("weather-netcdf", DOMAIN, NETCDF_SUFFIXES, read_field_records, "netCDF3/4 through xarray: (time, lat, lon) variables as channels (option `variables`)", options=XARRAY_OPTIONS),
            RecordReader("weather-zarr", DOMAIN, ZARR_SUFFIXES, read_field_records, "zarr store (a folder) through xarray: (time, lat, lon) variables as channels (option `variables`)", options=XARRAY_OPTIONS),
            RecordReader("weather-selection", DOMAIN, SELECTION_SUFFIXES, read_field_records, "JSON naming a field file and a time window [start, stop)", options=SELECTION_OPTIONS),
        ]

    def prepare_config(self, config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
        """Learn the grid, channels, latitudes, model step and channel statistics from training records."""
        from .prepare import complete_config

        return complete_config(config, records)

    def tokenizer(self, config: ModelConfig) -> FieldTokenizer:
        """Normalised (C, H, W) fields with their targets."""
        from .tokenizer import FieldTokenizer

        return FieldTokenizer(config)

    def embedder(self, config: ModelConfig) -> nn.Module:
        """Patch embedding with learned positions."""
        from .embedding import PatchEmbedder

        return PatchEmbedder(config)

    def token_mixer(self, config: ModelConfig, layer: int, parts: MixerParts) -> nn.Module | None:
        """AFNO Fourier mixing in every block (unless domain_options.mixer is `attention`)."""
        if WeatherOptions.from_config(config).mixer != "afno":
            return None
        from .afno import AFNOMixer

        return AFNOMixer(config)

    def head(self, config: ModelConfig, embedder: nn.Module) -> Head | None:
        """The forecasting head (tokens back to fields)."""
        if config.task != TASK:
            return None
        from .head import ForecastHead

        return ForecastHead(config)

    def scorer(self, model: SciformerModel, options: Mapping[str, Any], checkpoint: Path | None) -> Scorer | None:
        """Forecasts at each lead (reader option `leads`) and their skill against persistence and climatology."""
        if model.config.task != TASK:
            return None
        from .scoring import ForecastScorer

        return ForecastScorer(model, options, checkpoint)

    def next_input(self, config: ModelConfig, batch: TokenBatch, prediction: Tensor) -> TokenBatch | None:
        """The forecast as the next input, one model step (`step_hours`) later."""
        from .rollout import next_batch

        return next_batch(batch, prediction, WeatherOptions.from_config(config))

    def examples(self) -> ExampleRecords:
        """Hours of ERA5 2 m temperature over the UK, and records the tokenizer must reject."""
        from .examples import example_records

        return example_records(EXAMPLE)


@sciformer.hookimpl
def sciformer_domains() -> list[Domain]:
    """Declare the weather domain."""
    return [WeatherDomain()]


@sciformer.hookimpl
def sciformer_weight_importers() -> list[WeightImporter]:
    """FourCastNet / AFNO backbone weights from a local state dict."""
    return [WeightImporter("afno", DOMAIN, "FourCastNet / AFNO state dict (.pt/.tar, optional afno.json beside it)", import_afno)]


@sciformer.hookimpl
def sciformer_result_exporters() -> list[ResultExporter]:
    """Forecasts and skill of a weather results file as CF netCDF (`sciformer score ... --output x.nc`)."""
    return [ResultExporter("weather-netcdf", (".nc",), export_netcdf, "CF netCDF of weather forecasts: (time, lead, latitude, longitude) per channel, skill per lead")]


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """The ERA5 UK 2 m temperature forecaster (recipes/afno-era5-uk-t2m.yaml)."""
    path = HERE / "models" / "afno-era5-uk-t2m"
    if not (path / "config.json").is_file():
        return []
    return [
        ShippedModel.in_folder(path.parent, path.name, DOMAIN, "AFNO forecaster of hourly ERA5 2 m temperature over the UK (33x49, one hour per step).", EXAMPLE if EXAMPLE.is_file() else None, {"leads": "1,6"})
    ]


@sciformer.hookimpl
def sciformer_cli_commands() -> list[click.Command]:
    """`sciformer weather convert | stats | evaluate | plot`."""
    help = "Weather fields: conversion, statistics, forecast evaluation and maps."
    return [LazyCommand("weather", "sciformer_weather.cli:weather", help)]
