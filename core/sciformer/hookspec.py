"""Every hook sciformer calls, grouped by phase.

Plugins implement these with `@sciformer.hookimpl`. Hooks that take a `config` are called for every
model of every domain: an implementation returns None unless `config.domain` is its own. Hooks
that build components run once per model build, never per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click
    from torch import nn

    from sciformer.augmentation import Augmentation
    from sciformer.config import ModelConfig
    from sciformer.domain import DomainSpec, RecordReader, ShippedModel, Tokenizer, WeightImporter
    from sciformer.engine.bias import AttentionBias
    from sciformer.engine.heads import Head
    from sciformer.engine.model import SciformerModel
    from sciformer.engine.parts import BlockParts
    from sciformer.export import ResultExporter
    from sciformer.records import ExampleRecords, Record
    from sciformer.scoring.scorer import Scorer

PROJECT = "sciformer"
hookspec = pluggy.HookspecMarker(PROJECT)

# -- declaring domains ------------------------------------------------------------------------------


@hookspec
def sciformer_domains() -> list[DomainSpec]:
    """Declare the domains this plugin serves.

    Returns a list of DomainSpec (name, record type, default model settings, supported tasks).
    Every plugin's results are collected; a plugin declaring a name another plugin already declared is
    disabled (reported by `sciformer plugins`), and the first keeps it.
    """


@hookspec(firstresult=True)
def sciformer_examples(domain: str) -> ExampleRecords | None:
    """Small good and bad example records of `domain`, for tests and the plugin harness.

    First result wins; return None for a domain that is not yours.
    """


# -- reading and tokenizing -------------------------------------------------------------------------


@hookspec
def sciformer_readers(domain: str) -> list[RecordReader] | None:
    """Readers for file formats holding records of `domain` (FASTA, CSV, HDF5, image folders, ...).

    All results are collected, so a plugin may add a format to another plugin's domain. The host
    picks a reader by file suffix, the first registered winning.
    """


@hookspec(firstresult=True)
def sciformer_prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig | None:
    """Complete a configuration from training records before a model is built for training.

    For settings learned from data: a vocabulary, class names, normalisation statistics. Called once
    by the trainer, also when fine-tuning from a checkpoint, so fill in only what is missing (a
    pretrained vocabulary must stay as it is). First result wins; None keeps `config` as it is.
    """


@hookspec(firstresult=True)
def sciformer_tokenizer(config: ModelConfig) -> Tokenizer | None:
    """The tokenizer of `config.domain` for this configuration (records -> TokenBatch).

    First result wins. Its settings live in `config.domain_options`, so a checkpoint restores it.
    """


# -- building a model -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def sciformer_embedder(config: ModelConfig) -> nn.Module | None:
    """The embedding module of `config.domain`: TokenBatch -> sciformer.engine.context.Embedded.

    First result wins. Vocabulary domains expose `token_embedding` so language-model heads can tie to it.
    """


@hookspec
def sciformer_attention_biases(config: ModelConfig) -> list[AttentionBias] | None:
    """Attention biases this plugin adds to models of `config.domain`.

    Every plugin may contribute (all results are combined: logit biases summed, mixtures summed,
    attention weights multiplied), so a third-party plugin can bias another plugin's domain. Each
    bias is an `AttentionBias` module called once per layer; its parameters are saved with the model.
    """


@hookspec(firstresult=True)
def sciformer_token_mixer(config: ModelConfig, layer: int, positions: nn.Module | None) -> nn.Module | None:
    """A module that replaces attention in block `layer` (such as AFNO's Fourier mixing).

    It is called as `mixer(x, ctx, attention)` with x (B, T, D), the read-only `LayerContext` and the
    layer's resolved `AttentionInputs` (masking.py), and returns `Mixed(hidden, maps)`: hidden (B, T, D)
    and, when `attention.need_weights`, its (B, H, T, T) attention maps (else None). `positions` is the
    module that moves queries and keys (rotary), or None; a mixer that attends should apply it.
    First result wins; None keeps the engine's attention.
    """


@hookspec
def sciformer_block_parts() -> BlockParts | None:
    """Norm layers and feed-forwards this plugin offers by name (`sciformer.engine.parts.BlockParts`).

    A configuration chooses them with `model.norm_layer` and `model.mlp_layer`; the engine offers
    `layernorm`, `rmsnorm` and `mlp`. A name a plugin repeats replaces the engine's.
    """


@hookspec(firstresult=True)
def sciformer_head(config: ModelConfig, embedder: nn.Module) -> Head | None:
    """A head for `config.task` in `config.domain` (forecasting, a domain-specific LM head, ...).

    First result wins; None falls back to the engine's heads (mlm, clm, sequence and token tasks).
    """


@hookspec
def sciformer_augmentations(config: ModelConfig) -> list[Augmentation] | None:
    """Training-time augmentations for `config.domain`, each a `sciformer.augmentation.Augmentation`
    (a name, a one-line summary, and `build(**settings)` returning a transform of a training batch).

    A recipe turns one on with `training.augment: {name: {settings}}`; the trainer applies it to
    training micro-batches only, with a seeded generator. Offer only transforms that keep the label
    true. Return None unless `config.domain` is yours; every plugin's answers are collected.
    """


@hookspec(firstresult=True)
def sciformer_scorer(model: SciformerModel, options: dict, checkpoint: Path | None) -> Scorer | None:
    """What `sciformer score` writes for `model`: a `Scorer` subclass with the domain's own columns.

    `options` are the run's reader options; `checkpoint` is the model's directory (None for a model
    built in memory), where a plugin may keep files its scorer reads. Return None unless `model.config.domain` is yours; the
    engine's `Scorer` (embedding, token vectors, the head's columns) is used when no plugin answers.
    A scorer may add columns that need more than one forward pass (multi-step forecasts) and
    summaries over the finished file (skill against the truth).
    """


# -- tools ------------------------------------------------------------------------------------------


@hookspec
def sciformer_weight_importers() -> list[WeightImporter]:
    """Importers of published weights from local files (`sciformer import NAME SOURCE --out DIR`)."""


@hookspec
def sciformer_result_exporters() -> list[ResultExporter]:
    """Formats `sciformer score` writes besides HDF5, chosen by the output's suffix (`--output x.nc`).

    Each `sciformer.export.ResultExporter` names its suffixes and writes a finished HDF5 results file
    into its target.
    Every plugin's results are collected after the core's CSV, TSV and Parquet exporters; the first
    exporter to claim a suffix wins it.
    """


@hookspec
def sciformer_models() -> list[ShippedModel]:
    """Trained checkpoints this plugin ships, addressable by name wherever a model is asked for."""


@hookspec
def sciformer_cli_commands() -> list[click.Command]:
    """Extra click commands or groups added to the `sciformer` command line.

    Called at every start, `sciformer --help` included: return a `sciformer.cli.lazy.LazyCommand`
    (name, "package.module:command", one-line help) so that the command's module, and what it
    imports, loads only when the command runs.
    """
