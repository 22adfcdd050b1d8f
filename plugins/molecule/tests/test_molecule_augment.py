"""The distance-jitter augmentation: symmetric, real atom pairs only, seeded."""

from __future__ import annotations

import pytest
import torch
from sciformer.augmentation import build_augmentations
from sciformer.config import ModelConfig
from sciformer.errors import ConfigError
from sciformer.records import Record


def test_distance_jitter_scales_atom_pairs_symmetrically_and_nothing_else(host) -> None:
    config = ModelConfig(domain="molecule", max_positions=64)
    tokenizer = host.tokenizer(config)
    batch = tokenizer([Record("ethanol", "CCO"), Record("benzene", "c1ccccc1")])
    (jitter,) = build_augmentations(host, config, {"distance_jitter": {"std": 0.1}})
    moved = jitter(batch, torch.Generator().manual_seed(0))
    before, after = batch.extras["distances"], moved.extras["distances"]
    assert torch.equal(after, after.transpose(1, 2))
    assert torch.equal(after[:, 0], before[:, 0]) and torch.equal(after[:, :, 0], before[:, :, 0]), "the dummy node stays far"
    assert torch.equal(after[0, 4:], before[0, 4:]) and torch.equal(after[0, :, 4:], before[0, :, 4:]), "padding stays zero"
    assert torch.equal(torch.diagonal(after, dim1=1, dim2=2), torch.diagonal(before, dim1=1, dim2=2))
    ratio = (after[1, 1:, 1:] / before[1, 1:, 1:])[~torch.eye(6, dtype=torch.bool)]
    assert 0.0 < float((ratio - 1).abs().mean()) < 0.3
    assert torch.equal(moved.extras["adjacency"], batch.extras["adjacency"]) and torch.equal(moved.features, batch.features)
    assert torch.equal(after, jitter(batch, torch.Generator().manual_seed(0)).extras["distances"])
    with pytest.raises(ConfigError, match=r"distance_jitter.std must lie in \(0, 0.5\)"):
        build_augmentations(host, config, {"distance_jitter": {"std": 1}})
