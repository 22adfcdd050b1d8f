"""sciformer-protein: ESM-2-compatible protein language models on sciformer's engine."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click
from torch import nn

import sciformer
from sciformer.config import ModelConfig
from sciformer.domain import DomainSpec, RecordReader, ShippedModel, WeightImporter
from sciformer.engine.positions import RotaryPositions
from sciformer.records import ExampleRecords, Record

from .attention import WindowedAttention
from .embedding import EsmEmbedder
from .labels import complete_labels
from .readers import read_fasta, read_hdf5, read_lines, read_table
from .tokenizer import ProteinTokenizer

DOMAIN = "protein"
HERE = Path(__file__).parent
DATA = HERE.parent / "data"

__version__ = "0.1.0"


@sciformer.hookimpl
def sciformer_domains() -> list[DomainSpec]:
    """Declare the protein domain, with ESM-2 8M's shape as the default model."""
    return [
        DomainSpec(
            name=DOMAIN,
            record_type="an amino-acid sequence (one-letter codes, ESM alphabet)",
            summary="Protein language models as ESM-2 builds them: embeddings, variant effects, contacts.",
            tasks=("mlm", "sequence-classification", "sequence-regression", "token-classification"),
            default_config={
                "dim": 320,
                "depth": 6,
                "heads": 20,
                "position": "rotary",
                "norm": "pre",
                "activation": "gelu",
                "max_positions": 1026,
                "pooling": "mean",
                "domain_options": {"max_residues": 1022, "long_sequences": "window", "token_dropout": True},
            },
        )
    ]


@sciformer.hookimpl
def sciformer_readers(domain: str) -> list[RecordReader] | None:
    """FASTA, plain text, CSV / TSV and HDF5 readers."""
    if domain != DOMAIN:
        return None
    return [
        RecordReader("fasta", DOMAIN, (".fasta", ".fa", ".faa", ".fas"), read_fasta, "FASTA, streamed; duplicate headers kept apart by index"),
        RecordReader("protein-lines", DOMAIN, (".txt",), read_lines, "one sequence per line"),
        RecordReader("protein-table", DOMAIN, (".csv", ".tsv"), read_table, "sequence column with optional id / target columns"),
        RecordReader("protein-hdf5", DOMAIN, (".h5", ".hdf5"), read_hdf5, "a 1-D string dataset of sequences"),
    ]


@sciformer.hookimpl
def sciformer_prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig | None:
    """Class names of sequence- or residue-level labels, from the training records."""
    if config.domain != DOMAIN:
        return None
    return complete_labels(config, records)


@sciformer.hookimpl
def sciformer_tokenizer(config: ModelConfig) -> ProteinTokenizer | None:
    """The ESM tokenizer (33 tokens, BOS / EOS, windows for long sequences)."""
    if config.domain != DOMAIN:
        return None
    return ProteinTokenizer(config)


@sciformer.hookimpl
def sciformer_embedder(config: ModelConfig) -> EsmEmbedder | None:
    """ESM-2 token embeddings with token-dropout scaling."""
    if config.domain != DOMAIN:
        return None
    return EsmEmbedder(config)


@sciformer.hookimpl
def sciformer_token_mixer(config: ModelConfig, layer: int) -> nn.Module | None:
    """The engine's attention, run window by window for records longer than the model's limit."""
    if config.domain != DOMAIN:
        return None
    return WindowedAttention(config, RotaryPositions(config.head_dim) if config.position == "rotary" else None)


@sciformer.hookimpl
def sciformer_weight_importers() -> list[WeightImporter]:
    """ESM-2 from fair-esm `.pt` files and from transformers directories."""
    from .import_esm import import_fair_esm
    from .import_hf import import_hf_esm

    return [
        WeightImporter("esm", DOMAIN, "fair-esm ESM-2 checkpoint (.pt, with -contact-regression.pt beside it)", import_fair_esm),
        WeightImporter("hf-esm", DOMAIN, "transformers ESM-2 directory (config.json + safetensors or bin)", import_hf_esm),
    ]


@sciformer.hookimpl
def sciformer_examples(domain: str) -> ExampleRecords | None:
    """Real sequences (one long enough to be windowed), records the tokenizer must reject, a small MLM setup."""
    if domain != DOMAIN:
        return None
    return ExampleRecords(
        good=(
            Record("ubiquitin", "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"),
            Record("lower-case", "mkvlaagiv"),
            Record("ambiguous", "MKXBZUO-.LV"),
        ),
        bad=(Record("digit", "MKV1LA"), Record("empty", ""), Record("not-text", 42)),
        # 32 residues per window, so ubiquitin (76) runs as overlapping windows
        config={"dim": 32, "depth": 2, "heads": 4, "task": "mlm", "domain_options": {"max_residues": 32, "window_overlap": 8}},
    )


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """The DeepLoc localisation classifier and the secondary-structure tagger (see recipes/)."""
    return [
        ShippedModel(
            name="esm2-deeploc-small",
            domain=DOMAIN,
            path=HERE / "models" / "esm2-deeploc-small",
            summary="Small ESM-2-shaped model trained from scratch on DeepLoc: 10-class subcellular localisation.",
            example=DATA / "deeploc_sample.csv",
            example_options={"data_column": "sequence", "id_column": "id", "target_column": "location"},
        ),
        ShippedModel(
            name="esm2-ss3-small",
            domain=DOMAIN,
            path=HERE / "models" / "esm2-ss3-small",
            summary="Small ESM-2-shaped model trained from scratch on NetSurfP-2.0: 3-state secondary structure per residue.",
            example=DATA / "netsurfp_sample.csv",
            example_options={"data_column": "sequence", "id_column": "id"},
        ),
    ]


@sciformer.hookimpl
def sciformer_cli_commands() -> list[click.Command]:
    """`sciformer protein ...`: embed, variants, pll, contacts."""
    from .cli import protein

    return [protein]
