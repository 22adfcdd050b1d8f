"""The `molecule` domain: the Molecule Attention Transformer over RDKit atoms (sciformer plugin)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import sciformer
from sciformer.cli.lazy import LazyCommand
from sciformer.domain import Domain, RecordReader, ShippedModel, WeightImporter
from sciformer.lazy import LazyFunction

from .examples import example_records
from .reader import SDF_OPTIONS, TABLE_OPTIONS, read_sdf, read_smi, read_table

if TYPE_CHECKING:
    import click
    from sciformer.augmentation import Augmentation
    from sciformer.config import ModelConfig
    from sciformer.engine.bias import AttentionBias
    from sciformer.engine.heads import Head
    from sciformer.engine.parts import BlockParts
    from sciformer.records import ExampleRecords, Record
    from torch import nn

    from .embedder import AtomEmbedder
    from .tokenizer import MoleculeTokenizer

DOMAIN = "molecule"
HERE = Path(__file__).parent
DATA = HERE.parent / "data"
import_mat = LazyFunction("sciformer_molecule.mat_import:import_mat")  # imports torch when run


class MoleculeDomain(Domain):
    """RDKit atoms as tokens, with MAT's distance / adjacency attention."""

    name = DOMAIN
    record_type = "a molecule: SMILES string or MOL / SDF block (heavy atoms become tokens)"
    summary = "Molecule Attention Transformer: atom tokens with distance and adjacency attention."
    tasks = ("sequence-regression", "sequence-classification")
    default_config: ClassVar[Mapping[str, Any]] = {"dim": 128, "depth": 4, "heads": 8, "position": "none", "max_positions": 256, "pooling": "mean"}

    def readers(self) -> list[RecordReader]:
        """SMILES tables (CSV / TSV), `.smi` files and SDF files."""
        return [
            RecordReader("molecule-table", DOMAIN, (".csv", ".tsv"), read_table, "a SMILES column (default 'smiles') and optional target / id columns", options=TABLE_OPTIONS),
            RecordReader("molecule-smi", DOMAIN, (".smi",), read_smi, "one 'SMILES [name]' per line", options={}),
            RecordReader("molecule-sdf", DOMAIN, (".sdf", ".sd", ".mol"), read_sdf, "MOL blocks with SD properties (3D coordinates used)", options=SDF_OPTIONS),
        ]

    def prepare_config(self, config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
        """Target mean / std (regression) and descriptor mean / std (`molecule_features`) from the training records."""
        from .prepare import prepare_config

        return prepare_config(config, records)

    def tokenizer(self, config: ModelConfig) -> MoleculeTokenizer:
        """The RDKit featurizer for this configuration's domain options."""
        from .tokenizer import MoleculeTokenizer

        return MoleculeTokenizer(config)

    def embedder(self, config: ModelConfig) -> AtomEmbedder:
        """A linear projection of atom features (no position encoding)."""
        from .embedder import AtomEmbedder

        return AtomEmbedder(config)

    def attention_biases(self, config: ModelConfig) -> list[AttentionBias]:
        """MAT's distance / adjacency mixture and / or the Gaussian distance logit bias (domain_options.attention_bias)."""
        from .biases import attention_biases

        return attention_biases(config)

    def head(self, config: ModelConfig, embedder: nn.Module) -> Head | None:
        """Regression on standardised targets (predictions in target units); classification with the
        molecule's descriptors beside the atoms; other tasks use the engine's heads."""
        from .head import MoleculeHead, StandardisedRegressionHead
        from .options import MoleculeOptions

        if config.task == "sequence-regression":
            return StandardisedRegressionHead(config)
        if config.task == "sequence-classification" and MoleculeOptions.from_config(config).molecule_features != "none":
            return MoleculeHead(config, regression=False)
        return None

    def augmentations(self, config: ModelConfig) -> list[Augmentation]:
        """`distance_jitter`: interatomic distances scaled by 1 + noise, as if from another conformer."""
        from .augment import augmentations
        from .options import MoleculeOptions

        return augmentations(MoleculeOptions.from_config(config))

    def examples(self) -> ExampleRecords:
        """Small valid molecules (SMILES and a MOL block) and records the featurizer must reject."""
        return example_records()


@sciformer.hookimpl
def sciformer_domains() -> list[Domain]:
    """Declare the molecule domain."""
    return [MoleculeDomain()]


@sciformer.hookimpl
def sciformer_block_parts() -> BlockParts:
    """MAT's norm and one-layer feed-forward (`norm_layer: mat`, `mlp_layer: mat`), as imported MATs use."""
    from .mat_layers import MAT_PARTS

    return MAT_PARTS


@sciformer.hookimpl
def sciformer_weight_importers() -> list[WeightImporter]:
    """`sciformer import mat WEIGHTS.pt --out DIR`: the published MAT state dict layout."""
    return [WeightImporter("mat", DOMAIN, "Molecule Attention Transformer state dict (.pt, e.g. the published pretrained weights)", import_mat)]


# name, summary, held-out example file in data/, its target column
SHIPPED = (
    ("mat-esol-small", "Small MAT predicting aqueous solubility log10(mol/L), trained on ESOL (random split).", "esol_sample.csv", "logS"),
    ("mat-freesolv-small", "Small MAT predicting the hydration free energy in kcal/mol, trained on FreeSolv (random split).", "freesolv_sample.csv", "dG_hydration_kcal_per_mol"),
    ("mat-bbbp-small", "Small MAT classifying blood-brain barrier penetration (p_np), trained on BBBP (scaffold split).", "bbbp_sample.csv", "p_np"),
)


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """Small MATs for the MAT paper's three tasks (recipes/mat-*-small.yaml): ESOL solubility, FreeSolv
    hydration free energy (regressions) and BBBP blood-brain barrier penetration (classification)."""
    return [
        ShippedModel.in_folder(HERE / "models", name, DOMAIN, summary, DATA / example, {"data_column": "smiles", "target_column": target})
        for name, summary, example, target in SHIPPED
    ]


@sciformer.hookimpl
def sciformer_cli_commands() -> list[click.Command]:
    """`sciformer molecule ...`: split, baseline, evaluate and featurize."""
    help = "Molecule tools: scaffold / random splits, Morgan-fingerprint baseline, evaluation, featurization."
    return [LazyCommand("molecule", "sciformer_molecule.cli:molecule_commands", help)]
