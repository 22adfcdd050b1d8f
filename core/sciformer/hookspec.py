"""Every hook sciformer calls, grouped by phase.

Plugins implement these with `@sciformer.hookimpl`. A plugin declares each domain it serves once, as a
`sciformer.domain.Domain` object that builds that domain's components; the hooks here carry what
crosses domains (readers and attention biases for any domain, block parts) and what a plugin offers
beside its domains (importers, shipped models, result formats, commands). Hooks that build
components run once per model build, never per batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from sciformer.config import ModelConfig
    from sciformer.domain import Domain, RecordReader, ShippedModel, WeightImporter
    from sciformer.engine.bias import AttentionBias
    from sciformer.engine.parts import BlockParts
    from sciformer.export import ResultExporter

PROJECT = "sciformer"
hookspec = pluggy.HookspecMarker(PROJECT)

# -- declaring domains ------------------------------------------------------------------------------


@hookspec
def sciformer_domains() -> list[Domain]:
    """The domains this plugin serves, each a `sciformer.domain.Domain` with its components.

    A Domain names its record type, default model settings and tasks, and builds its tokenizer,
    embedder, examples and optional parts (readers, mixers, heads, biases, augmentations, scorer);
    the host calls them only for configurations of that domain. Every plugin's results are
    collected; a plugin declaring a name another plugin already declared is disabled (reported by
    `sciformer plugins`), and the first keeps it.
    """


# -- what crosses domains ---------------------------------------------------------------------------


@hookspec
def sciformer_readers() -> list[RecordReader]:
    """Readers this plugin adds to any domain, each naming its `domain` (a format for a domain another
    plugin owns). A domain's own readers come from `Domain.readers`; the host picks a reader by file
    suffix, the domain's own first, then these in plugin order.
    """


@hookspec
def sciformer_attention_biases(config: ModelConfig) -> list[AttentionBias] | None:
    """Attention biases this plugin adds to a model of any domain (a domain's own come from
    `Domain.attention_biases`).

    Every plugin may contribute (all results are combined: logit biases summed, mixtures summed,
    attention weights multiplied). Make such a bias opt-in through a setting (ALiBi reads
    `domain_options.alibi`), so that installing the plugin changes no existing model. Each bias is
    an `AttentionBias` module called once per layer; its parameters are saved with the model.
    """


@hookspec
def sciformer_block_parts() -> BlockParts | None:
    """Norm layers and feed-forwards this plugin offers by name (`sciformer.engine.parts.BlockParts`).

    A configuration of any domain chooses them with `model.norm_layer` and `model.mlp_layer`; the
    engine offers `layernorm`, `rmsnorm` and `mlp`. A name a plugin repeats replaces the engine's.
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
