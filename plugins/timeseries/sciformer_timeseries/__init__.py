"""The `timeseries` domain: windows of multivariate series forecast by PatchTST on the engine's blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sciformer
from sciformer.cli.lazy import LazyCommand
from sciformer.domain import Domain, RecordReader, ShippedModel, WeightImporter
from sciformer.lazy import LazyFunction

from .options import DEFAULT_CONFIG, DOMAIN, TASK
from .reader_options import HDF5_OPTIONS, MODEL_OPTIONS, TABLE_OPTIONS
from .suffixes import HDF5_SUFFIXES, PARQUET_SUFFIXES, TABLE_SUFFIXES
from .transformer_options import is_transformer

if TYPE_CHECKING:
    import click
    from sciformer.config import ModelConfig
    from sciformer.engine.heads import Head
    from sciformer.engine.model import SciformerModel
    from sciformer.engine.parts import BlockParts, MixerParts
    from sciformer.records import ExampleRecords, Record
    from sciformer.scoring.scorer import Scorer
    from torch import nn

    from .tokenizer import WindowTokenizer

EXAMPLE = Path(__file__).parent.parent / "data" / "era5_t2m_uk_hourly.csv"
SUNSPOTS = EXAMPLE.parent / "sunspots.csv"
ERA5_GRID = EXAMPLE.parent / "era5_t2m_uk_grid.h5"
MODELS = Path(__file__).parent / "models"

# readers and the importer are imported when used, so that listing them imports neither h5py nor torch
read_table_windows = LazyFunction("sciformer_timeseries.reader:read_table_windows")
read_hdf5_windows = LazyFunction("sciformer_timeseries.reader:read_hdf5_windows")
import_hf_patchtst = LazyFunction("sciformer_timeseries.importer:import_hf_patchtst")
import_hf_timeseries = LazyFunction("sciformer_timeseries.import_timeseries:import_hf_timeseries")


class TimeSeriesDomain(Domain):
    """Windows of multivariate series: `context` steps of C channels in, the next `horizon` steps forecast."""

    name = DOMAIN
    record_type = "a window of a multivariate series: context (L, C) in the series' units, the next H steps as target"
    summary = "Multivariate time series as channel-independent patches (PatchTST); forecasts and skill against naive baselines."
    tasks = (TASK,)
    default_config = DEFAULT_CONFIG

    def readers(self) -> list[RecordReader]:
        """CSV / TSV / Parquet tables (wide or long) and HDF5 / netCDF-4 variables, cut into windows on the fly."""
        return [
            RecordReader(
                "timeseries-table",
                DOMAIN,
                TABLE_SUFFIXES,
                read_table_windows,
                "CSV / TSV: a time column and one column per channel (wide), or (time, series, values) rows (long)",
                options=TABLE_OPTIONS,
                model_options=MODEL_OPTIONS,
            ),
            RecordReader(
                "timeseries-parquet",
                DOMAIN,
                PARQUET_SUFFIXES,
                read_table_windows,
                "Parquet (needs pyarrow), wide or long as CSV",
                options=TABLE_OPTIONS,
                model_options=MODEL_OPTIONS,
            ),
            RecordReader(
                "timeseries-hdf5",
                DOMAIN,
                HDF5_SUFFIXES,
                read_hdf5_windows,
                "HDF5 / netCDF-4 (time, ...) variables: every grid point or station is a series, variables its channels",
                options=HDF5_OPTIONS,
                model_options=MODEL_OPTIONS,
            ),
        ]

    def prepare_config(self, config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
        """Learn the context length, horizon and channels from the training windows."""
        from .prepare import complete_config

        return complete_config(config, records)

    def tokenizer(self, config: ModelConfig) -> WindowTokenizer:
        """Windows as (L, C) contexts with their observed masks and targets."""
        from .tokenizer import WindowTokenizer

        return WindowTokenizer(config)

    def embedder(self, config: ModelConfig) -> nn.Module:
        """PatchTST: instance normalisation, patches from the end of each channel, linear embedding and
        positions; the encoder-decoder: each context step's scaled lags, statistics and time features."""
        if is_transformer(config):
            from .transformer_embedding import EncoderEmbedder

            return EncoderEmbedder(config)
        from .embedding import PatchEmbedder

        return PatchEmbedder(config)

    def decoder_embedder(self, config: ModelConfig) -> nn.Module | None:
        """The encoder-decoder's forecast steps (their lags read the context and the values before them)."""
        if not is_transformer(config):
            return None
        from .transformer_embedding import DecoderEmbedder

        return DecoderEmbedder(config)

    def token_mixer(self, config: ModelConfig, layer: int, parts: MixerParts) -> nn.Module | None:
        """PatchTST: the engine's attention within each channel (channels folded into the batch); the
        encoder-decoder: the engine's attention."""
        if is_transformer(config):
            return None
        from .attention import ChannelAttention
        from .options import SeriesOptions

        return ChannelAttention(config, SeriesOptions.from_config(config).num_channels, parts.positions, parts.norm)

    def head(self, config: ModelConfig, embedder: nn.Module) -> Head | None:
        """PatchTST: the forecasting head (tokens to the next H steps of each channel); the encoder-decoder:
        a predictive distribution per forecast step."""
        if config.task != TASK:
            return None
        if is_transformer(config):
            from .distribution_head import DistributionHead

            return DistributionHead(config)
        from .head import ForecastHead

        return ForecastHead(config)

    def scorer(self, model: SciformerModel, options: Mapping[str, Any], checkpoint: Path | None) -> Scorer | None:
        """Forecasts and, where the file holds the truth, errors next to persistence, seasonal naive and ETS."""
        if model.config.task != TASK:
            return None
        from .scoring import ForecastScorer

        return ForecastScorer(model, options)

    def examples(self) -> ExampleRecords:
        """Windows of ERA5 2 m temperature at two grid points, and records the tokenizer must reject."""
        from .examples import example_records

        return example_records(EXAMPLE)


@sciformer.hookimpl
def sciformer_domains() -> list[Domain]:
    """Declare the timeseries domain."""
    return [TimeSeriesDomain()]


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """PatchTSTs forecasting the yearly sunspot number and hourly ERA5 2 m temperature (recipes/ in the plugin folder)."""
    return [
        ShippedModel.in_folder(MODELS, "patchtst-sunspots", DOMAIN, "PatchTST (dim 32, 2 blocks, 11-year patches) forecasting the yearly sunspot number 11 years from 44.", SUNSPOTS, {"start": 205, "season": 11}),
        ShippedModel.in_folder(MODELS, "patchtst-era5-uk-t2m", DOMAIN, "PatchTST (dim 16, 1 block, day-long patches) forecasting hourly 2 m temperature 24 hours from 168, from a fitted blend of the day-ago value and persistence.", ERA5_GRID, {"start": 360, "stride": 24, "season": 24}),
    ]


@sciformer.hookimpl
def sciformer_block_parts() -> BlockParts:
    """The `batchnorm` norm layer (PatchTST's BatchNorm over the feature axis), for any domain."""
    from sciformer.engine.parts import BlockParts

    from .norms import batchnorm

    return BlockParts(norms={"batchnorm": batchnorm})


@sciformer.hookimpl
def sciformer_weight_importers() -> list[WeightImporter]:
    """transformers PatchTSTForPrediction and TimeSeriesTransformerForPrediction directories."""
    return [
        WeightImporter(
            "hf-patchtst", DOMAIN, "transformers PatchTSTForPrediction folder (config.json + safetensors)", import_hf_patchtst
        ),
        WeightImporter(
            "hf-timeseries", DOMAIN, "transformers TimeSeriesTransformerForPrediction folder (config.json + safetensors)", import_hf_timeseries
        ),
    ]


@sciformer.hookimpl
def sciformer_cli_commands() -> list[click.Command]:
    """`sciformer timeseries plot`."""
    return [LazyCommand("timeseries", "sciformer_timeseries.cli:timeseries", "Time series: forecast plots.")]
