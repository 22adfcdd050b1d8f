"""MAT's attention mixture and the Gaussian distance bias, through the engine's bias hook."""

from __future__ import annotations

import math

import pytest
import torch
from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.engine.bias import AttentionTerms
from sciformer.engine.context import Embedded, LayerContext
from sciformer.errors import ConfigError
from sciformer.records import Record
from sciformer_molecule.gaussian_bias import GaussianDistanceBias
from sciformer_molecule.mat_attention import MoleculeAttentionBias

RECORDS = [Record("ethanol", "CCO"), Record("benzoic-acid", "OC(=O)c1ccccc1"), Record("water", "O")]


def context(batch, layer: int = 0, state: dict | None = None) -> LayerContext:
    embedded = Embedded(torch.zeros(*batch.padding_mask.shape, 4), batch.padding_mask, batch.padding_mask, batch.positions)
    return LayerContext(batch=batch, embedded=embedded, layer=layer, state={} if state is None else state)


@pytest.mark.parametrize("kernel", ["softmax", "exp"])
def test_mixture_matches_the_formula_elementwise(host, small_config: ModelConfig, kernel: str) -> None:
    """lambda_d g(D)[i, j] + lambda_g A[i, j] / rowsum(A)[i], with g over real atoms only."""
    batch = host.tokenizer(small_config)(RECORDS)
    bias = MoleculeAttentionBias(0.3, 0.3, 0.4, kernel)
    terms = bias(context(batch))
    assert terms.attention_weight == 0.3 and terms.logits is None
    mixture = terms.mixture[:, 0]  # (B, T, T): one mixture broadcast over heads
    distances, adjacency = batch.extras["distances"], batch.extras["adjacency"]
    for b in range(batch.size):
        n = int(batch.padding_mask[b].sum())
        for i in range(n):
            real = distances[b, i, :n]
            g = torch.softmax(-real, 0) if kernel == "softmax" else torch.exp(-real)
            a = adjacency[b, i, :n] / (adjacency[b, i, :n].sum() + 1e-6)
            assert torch.allclose(mixture[b, i, :n], 0.3 * g + 0.4 * a, atol=1e-6)
            assert (mixture[b, i, n:] == 0).all()  # padded keys get no weight
    if kernel == "softmax":  # distance rows are distributions over real atoms, adjacency rows over neighbours
        atoms = batch.padding_mask.clone()
        atoms[:, 0] = False  # the dummy node has no bonds, so its row holds only the distance term
        row_sums = mixture.sum(-1)[atoms]
        assert torch.allclose(row_sums, torch.full_like(row_sums, 0.7), atol=1e-5)


def test_mixture_is_computed_once_per_forward(host, small_config: ModelConfig) -> None:
    """Layers share the mixture through ctx.state."""
    batch = host.tokenizer(small_config)(RECORDS)
    bias, state = MoleculeAttentionBias(0.33, 0.33, 0.34, "exp"), {}
    first, second = bias(context(batch, 0, state)), bias(context(batch, 1, state))
    assert first.mixture is second.mixture


def test_gaussian_bias_is_per_head_logits(host, small_config: ModelConfig) -> None:
    """(B, H, T, T) logits from distances; the basis is a normalised Gaussian density."""
    batch = host.tokenizer(small_config)(RECORDS)
    bias = GaussianDistanceBias(heads=4, kernels=8, cutoff=8.0)
    terms = bias(context(batch))
    assert isinstance(terms, AttentionTerms) and terms.mixture is None
    length = batch.padding_mask.shape[1]
    assert terms.logits.shape == (3, 4, length, length)
    basis = bias.basis(torch.tensor([[[1.0]]]))
    width = bias.widths.abs() + 1e-2
    expected = torch.exp(-0.5 * ((1.0 - bias.centres) / width) ** 2) / (math.sqrt(2 * math.pi) * width)
    assert torch.allclose(basis[0, 0, 0], expected)
    assert bias.basis(torch.tensor([[[1e6]]])).abs().max() == 0  # the dummy node's distance gives no basis signal


@pytest.mark.parametrize("biases", [["mat"], ["gaussian"], ["mat", "gaussian"], []])
def test_models_are_padding_invariant_and_paths_agree(host, small_config: ModelConfig, biases: list[str]) -> None:
    """Each configured bias gives the same outputs alone or batched, on the fused and the reference path."""
    config = small_config.replace(domain_options={"attention_bias": biases})
    torch.manual_seed(0)
    model = build_model(config, host).eval()
    assert [type(b).__name__ for b in model.biases] == [{"mat": "MoleculeAttentionBias", "gaussian": "GaussianDistanceBias"}[n] for n in biases]
    tokenizer = host.tokenizer(config)
    batch = tokenizer(RECORDS)
    with torch.no_grad():
        fused, reference = model(batch), model(batch, need_weights=True)
        alone = torch.cat([model(tokenizer([r])).prediction for r in RECORDS])
    assert torch.allclose(fused.prediction, reference.prediction, atol=1e-5)
    assert torch.allclose(fused.prediction, alone, atol=1e-5)
    assert len(reference.attentions) == config.depth and reference.attentions[0].shape[1] == config.heads
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(batch).prediction.float()
    assert torch.isfinite(low).all()


def test_mat_attention_map_rows_follow_the_lambdas(host, small_config: ModelConfig) -> None:
    """With the softmax kernel each atom's map row sums to lambda_a + lambda_d + lambda_g = 1."""
    config = small_config.replace(domain_options={"distance_kernel": "softmax", "lambda_attention": 0.5, "lambda_distance": 0.25})
    model = build_model(config, host).eval()
    batch = host.tokenizer(config)(RECORDS)
    with torch.no_grad():
        maps = model(batch, need_weights=True).attentions[0]  # (B, H, T, T)
    atoms = batch.padding_mask.clone()
    atoms[:, 0] = False
    sums = maps.sum(-1).permute(0, 2, 1)[atoms]  # (atoms, H)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)


def test_position_encodings_are_refused(host, small_config: ModelConfig) -> None:
    """Atoms have no order: a position encoding is a configuration error."""
    with pytest.raises(ConfigError, match="position"):
        build_model(small_config.replace(position="learned"), host)
