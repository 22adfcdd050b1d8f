"""Training-time augmentation of molecules: jittered interatomic distances.

A conformer is one of many shapes a molecule takes; its measured property belongs to the molecule,
not to that shape. `distance_jitter` multiplies each interatomic distance of a training batch by
`1 + e` with `e ~ N(0, std)`, the same for (i, j) and (j, i), so the distance attention does not
learn one conformer's exact geometry. Bonds (adjacency), atom features and the dummy node's
distances are left as they are.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from sciformer.augmentation import Augmentation, BatchTransform
from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError

from sciformer_molecule.options import MoleculeOptions


def distance_jitter(std: float = 0.05, dummy_node: bool = True) -> BatchTransform:
    """Scale each distance between two real atoms by 1 + N(0, std), symmetrically."""
    if not isinstance(std, (int, float)) or not 0.0 < std < 0.5:
        raise ConfigError(f"training.augment.distance_jitter.std must lie in (0, 0.5), got {std!r}")

    def transform(batch: TokenBatch, generator: torch.Generator) -> TokenBatch:
        distances = batch.extras["distances"]  # (B, T, T)
        noise = torch.randn(distances.shape, generator=generator, dtype=distances.dtype) * std
        noise = torch.triu(noise, diagonal=1)
        noise = noise + noise.transpose(1, 2)
        atoms = batch.padding_mask.clone()
        if dummy_node:
            atoms[:, 0] = False
        pairs = atoms[:, :, None] & atoms[:, None, :]
        jittered = torch.where(pairs, distances * (1.0 + noise).clamp(min=0.5), distances)
        return replace(batch, extras={**batch.extras, "distances": jittered})

    return transform


def augmentations(options: MoleculeOptions) -> list[Augmentation]:
    """The molecule domain's augmentations for a model's options."""

    def build(std: float = 0.05) -> BatchTransform:
        return distance_jitter(std, options.dummy_node)

    return [Augmentation("distance_jitter", "scale each interatomic distance by 1 + N(0, `std`), symmetrically", build)]
