"""The molecule tokenizer: one token per heavy atom (plus the dummy node), with distance and adjacency extras."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch, pad_sequences, pad_square
from sciformer.domain import Tokenizer
from sciformer.errors import BadRecordError
from sciformer.records import Record
from sciformer.targets import encode_target
from torch import Tensor

from sciformer_molecule.cache import ConformerCache
from sciformer_molecule.featurize import featurize
from sciformer_molecule.options import MoleculeOptions


@dataclass(frozen=True)
class MoleculeEncoding:
    """One encoded record: `features` (T, F), `adjacency` and `distances` (T, T), and its target (or None)."""

    features: Tensor
    adjacency: Tensor
    distances: Tensor
    target: int | float | None
    smiles: str
    geometry: str


class MoleculeTokenizer(Tokenizer):
    """Featurizes records with RDKit (see featurize.py) and pads them into a TokenBatch.

    The batch carries `features` (B, T, F) float32 and extras `distances` (B, T, T) in angstrom and
    `adjacency` (B, T, T) 0/1 with self-loops; padded entries are 0. Conformers are cached per
    tokenizer (and on disk when `$SCIFORMER_MOLECULE_CACHE` is set), so a molecule is embedded once.
    """

    def __init__(self, config: ModelConfig, cache: ConformerCache | None = None) -> None:
        self.config = config
        self.options = MoleculeOptions.from_config(config)
        self.cache = cache if cache is not None else ConformerCache.from_environment()
        self.max_tokens = config.max_positions

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
        )

    def collate(self, encoded: Sequence[MoleculeEncoding], record_ids: Sequence[str]) -> TokenBatch:
        """Right-pad to the longest molecule; targets become a tensor when every record has one."""
        features, mask = pad_sequences([e.features for e in encoded], value=0.0)  # (B, T, F), (B, T)
        extras = {
            "distances": pad_square([e.distances for e in encoded], value=0.0),  # (B, T, T)
            "adjacency": pad_square([e.adjacency for e in encoded], value=0.0),  # (B, T, T)
        }
        targets = [e.target for e in encoded]
        target_tensor = torch.tensor(targets) if all(t is not None for t in targets) else None
        return TokenBatch(padding_mask=mask, record_ids=list(record_ids), features=features, extras=extras, targets=target_tensor)

    def num_tokens(self, encoded: MoleculeEncoding) -> int:
        """Atoms plus the dummy node."""
        return int(encoded.features.shape[0])
