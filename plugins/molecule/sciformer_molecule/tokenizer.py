"""The molecule tokenizer: one token per heavy atom (plus the dummy node), with distance and adjacency extras."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from rdkit import Chem, rdBase
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch, pad_sequences, pad_square
from sciformer.domain import Tokenizer
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record
from sciformer.targets import encode_target
from torch import Tensor

from sciformer_molecule.cache import ConformerCache
from sciformer_molecule.descriptors import DESCRIPTOR_NAMES, descriptor_values, standardised
from sciformer_molecule.featurize import featurize
from sciformer_molecule.options import MoleculeOptions

MOLECULE_FEATURES = "molecule_features"  # batch extra: (B, D) standardised descriptors


def check_descriptor_statistics(options: MoleculeOptions) -> None:
    """A model that takes descriptors carries their training mean and std, one per descriptor this RDKit computes."""
    if options.feature_mean is None:
        raise ConfigError("domain_options.molecule_features 'rdkit2d' needs feature_mean and feature_std, which training sets from its records")
    if len(options.feature_mean) != len(DESCRIPTOR_NAMES):
        raise ConfigError(
            f"the model was trained on {len(options.feature_mean)} RDKit descriptors, this RDKit computes {len(DESCRIPTOR_NAMES)}: install the RDKit it was trained with"
        )


@dataclass(frozen=True)
class MoleculeEncoding:
    """One encoded record: `features` (T, F), `adjacency` and `distances` (T, T), its target (or None),
    and its standardised descriptors (D,) when the model takes them."""

    features: Tensor
    adjacency: Tensor
    distances: Tensor
    target: int | float | None
    smiles: str
    geometry: str
    descriptors: Tensor | None = None


class MoleculeTokenizer(Tokenizer):
    """Featurizes records with RDKit (see featurize.py) and pads them into a TokenBatch.

    The batch carries `features` (B, T, F) float32 and extras `distances` (B, T, T) in angstrom and
    `adjacency` (B, T, T) 0/1 with self-loops; padded entries are 0; with `molecule_features: rdkit2d`
    also `molecule_features` (B, D), the standardised descriptors. Conformers are cached per tokenizer (and
    on disk when `$SCIFORMER_MOLECULE_CACHE` is set), so a molecule is embedded once.
    """

    def __init__(self, config: ModelConfig, cache: ConformerCache | None = None) -> None:
        self.config = config
        self.options = MoleculeOptions.from_config(config)
        self.cache = cache if cache is not None else ConformerCache.from_environment()
        self.max_tokens = config.max_positions
        if self.options.molecule_features == "rdkit2d":
            check_descriptor_statistics(self.options)

    def encode(self, record: Record) -> MoleculeEncoding:
        """A record (SMILES, MOL block or RDKit Mol) -> its encoding; raises BadRecordError."""
        if record.error:
            raise BadRecordError(record.id, record.error)
        graph = featurize(record.id, record.data, self.options, self.cache, self.max_tokens)
        return MoleculeEncoding(
            features=torch.from_numpy(graph.features),
            adjacency=torch.from_numpy(graph.adjacency),
            distances=torch.from_numpy(graph.distances),
            target=encode_target(record, self.config),
            smiles=graph.smiles,
            geometry=graph.geometry,
            descriptors=self._descriptors(record.id, graph.smiles),
        )

    def _descriptors(self, record_id: str, smiles: str) -> Tensor | None:
        if self.options.molecule_features != "rdkit2d":
            return None
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            raise BadRecordError(record_id, f"no descriptors: RDKit cannot re-read the molecule's SMILES {smiles[:60]!r}")
        values = descriptor_values(mol)
        return torch.from_numpy(standardised(values, self.options.feature_mean, self.options.feature_std))

    def collate(self, encoded: Sequence[MoleculeEncoding], record_ids: Sequence[str]) -> TokenBatch:
        """Right-pad to the longest molecule; targets become a tensor when every record has one."""
        features, mask = pad_sequences([e.features for e in encoded], value=0.0)  # (B, T, F), (B, T)
        extras = {
            "distances": pad_square([e.distances for e in encoded], value=0.0),  # (B, T, T)
            "adjacency": pad_square([e.adjacency for e in encoded], value=0.0),  # (B, T, T)
        }
        if self.options.molecule_features == "rdkit2d":
            extras[MOLECULE_FEATURES] = torch.stack([e.descriptors for e in encoded])  # (B, D)
        targets = [e.target for e in encoded]
        target_tensor = torch.tensor(targets) if all(t is not None for t in targets) else None
        return TokenBatch(padding_mask=mask, record_ids=list(record_ids), features=features, extras=extras, targets=target_tensor)

    def num_tokens(self, encoded: MoleculeEncoding) -> int:
        """Atoms plus the dummy node."""
        return int(encoded.features.shape[0])
