"""sciformer-protein: ESM-2-compatible protein language models on sciformer's engine."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import sciformer
from sciformer.cli.lazy import LazyCommand
from sciformer.domain import Domain, RecordReader, ShippedModel, WeightImporter
from sciformer.lazy import LazyFunction
from sciformer.records import ExampleRecords, Record

from .reader_options import HDF5_OPTIONS, SCORING_OPTIONS, TABLE_MODEL_OPTIONS, TABLE_OPTIONS

if TYPE_CHECKING:
    import click
    from sciformer.config import ModelConfig
    from sciformer.engine.model import SciformerModel
    from sciformer.engine.parts import MixerParts
    from sciformer.scoring.scorer import Scorer
    from torch import nn

    from .embedding import EsmEmbedder
    from .tokenizer import ProteinTokenizer

DOMAIN = "protein"
HERE = Path(__file__).parent
DATA = HERE.parent / "data"

# readers and importers are imported when used, so that listing them imports neither h5py nor torch
read_fasta = LazyFunction("sciformer.readers:read_fasta")
read_lines = LazyFunction("sciformer.readers:read_lines")
read_table = LazyFunction("sciformer_protein.readers:read_table")
read_hdf5 = LazyFunction("sciformer_protein.readers:read_hdf5")
read_sources = LazyFunction("sciformer_protein.pretraining:read_sources")
import_fair_esm = LazyFunction("sciformer_protein.import_esm:import_fair_esm")
import_hf_esm = LazyFunction("sciformer_protein.import_hf:import_hf_esm")

__version__ = "0.1.0"


class ProteinDomain(Domain):
    """Amino-acid sequences as ESM-2 tokenizes them, with ESM-2 8M's shape as the default model."""

    name = DOMAIN
    record_type = "an amino-acid sequence (one-letter codes, ESM alphabet)"
    summary = "Protein language models as ESM-2 builds them: embeddings, variant effects, contacts."
    tasks = ("mlm", "sequence-classification", "sequence-regression", "token-classification")
    default_config: ClassVar[Mapping[str, Any]] = {
        "dim": 320,
        "depth": 6,
        "heads": 20,
        "position": "rotary",
        "norm": "pre",
        "activation": "gelu",
        "max_positions": 1026,
        "pooling": "mean",
        "domain_options": {"max_residues": 1022, "long_sequences": "window", "token_dropout": True},
    }

    def readers(self) -> list[RecordReader]:
        """FASTA, plain text, CSV / TSV and HDF5 readers, and the training-part `.sources` lists."""
        return [
            RecordReader("fasta", DOMAIN, (".fasta", ".fa", ".faa", ".fas"), read_fasta, "FASTA, streamed; duplicate headers kept apart by index", options=SCORING_OPTIONS),
            RecordReader("protein-lines", DOMAIN, (".txt",), read_lines, "one sequence per line", options=SCORING_OPTIONS),
            RecordReader(
                "protein-table", DOMAIN, (".csv", ".tsv"), read_table, "sequence column with optional id / target columns",
                options=TABLE_OPTIONS, model_options=TABLE_MODEL_OPTIONS,
            ),
            RecordReader("protein-hdf5", DOMAIN, (".h5", ".hdf5"), read_hdf5, "a 1-D string dataset of sequences", options=HDF5_OPTIONS),
            RecordReader("protein-sources", DOMAIN, (".sources",), read_sources, "training-part sequences of the recipes it names, held-out ones left out", options=SCORING_OPTIONS),
        ]

    def tokenizer(self, config: ModelConfig) -> ProteinTokenizer:
        """The ESM tokenizer (33 tokens, BOS / EOS, windows for long sequences)."""
        from .tokenizer import ProteinTokenizer

        return ProteinTokenizer(config)

    def embedder(self, config: ModelConfig) -> EsmEmbedder:
        """ESM-2 token embeddings with token-dropout scaling."""
        from .embedding import EsmEmbedder

        return EsmEmbedder(config)

    def token_mixer(self, config: ModelConfig, layer: int, parts: MixerParts) -> nn.Module:
        """The engine's attention, run window by window for records longer than the model's limit."""
        from .attention import WindowedAttention

        return WindowedAttention(config, parts.positions, parts.norm)

    def scorer(self, model: SciformerModel, options: Mapping[str, Any], checkpoint: Path | None) -> Scorer:
        """Representations of any layer (option `layer`), `bos`, and `truncated`, whether a record was cut to the model's residue limit."""
        from .scoring import ProteinScorer

        return ProteinScorer(model, options)

    def examples(self) -> ExampleRecords:
        """Real sequences (one long enough to be windowed), records the tokenizer must reject, a small MLM setup."""
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
def sciformer_domains() -> list[Domain]:
    """Declare the protein domain."""
    return [ProteinDomain()]


@sciformer.hookimpl
def sciformer_weight_importers() -> list[WeightImporter]:
    """ESM-2 from fair-esm `.pt` files and from transformers directories."""
    return [
        WeightImporter("esm", DOMAIN, "fair-esm ESM-2 checkpoint (.pt, with -contact-regression.pt beside it)", import_fair_esm),
        WeightImporter("hf-esm", DOMAIN, "transformers ESM-2 directory (config.json + safetensors or bin)", import_hf_esm),
    ]


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """The masked-LM pre-trained model, the DeepLoc localisation classifier and the secondary-structure tagger (see recipes/)."""
    return [
        ShippedModel.in_folder(HERE / "models", "esm2-mlm-small", DOMAIN, "Small ESM-2-shaped masked-LM model pre-trained from scratch on DeepLoc and NetSurfP training sequences, with a contact regression fitted on solved structures: embeddings, variant effects, pseudo-log-likelihoods, contacts. Windows of 510 residues cover longer sequences.", DATA / "deeploc_sample.fasta"),
        ShippedModel.in_folder(HERE / "models", "esm2-deeploc-small", DOMAIN, "Small ESM-2-shaped model fine-tuned from esm2-mlm-small on DeepLoc: 10-class subcellular localisation. Windows of 510 residues cover longer sequences.", DATA / "deeploc_sample.csv", {"data_column": "sequence", "id_column": "id", "target_column": "location"}),
        ShippedModel.in_folder(HERE / "models", "esm2-ss3-small", DOMAIN, "Small ESM-2-shaped model trained from scratch on NetSurfP-2.0: 3-state secondary structure per residue. Windows of 510 residues cover longer sequences.", DATA / "netsurfp_sample.csv", {"data_column": "sequence", "id_column": "id"}),
    ]


@sciformer.hookimpl
def sciformer_cli_commands() -> list[click.Command]:
    """`sciformer protein ...`: embed, variants, pll, residues, contacts, fit-contacts."""
    help = "Protein tools: embeddings, variant effects, pseudo-log-likelihoods, contact maps, per-residue classes."
    return [LazyCommand("protein", "sciformer_protein.cli:protein", help)]
