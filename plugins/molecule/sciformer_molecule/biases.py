"""Which attention biases a molecule model gets, from `domain_options.attention_bias`."""

from __future__ import annotations

from sciformer.config import ModelConfig
from sciformer.engine.bias import AttentionBias

from sciformer_molecule.gaussian_bias import GaussianDistanceBias
from sciformer_molecule.mat_attention import MoleculeAttentionBias
from sciformer_molecule.options import MoleculeOptions


def attention_biases(config: ModelConfig) -> list[AttentionBias]:
    """The configured biases, in the order named: "mat" (post-softmax mixture), "gaussian" (logit bias)."""
    options = MoleculeOptions.from_config(config)
    biases: list[AttentionBias] = []
    for name in options.attention_bias:
        if name == "mat":
            biases.append(MoleculeAttentionBias(options.lambda_attention, options.lambda_distance, options.adjacency_weight, options.distance_kernel))
        else:
            biases.append(GaussianDistanceBias(config.heads, options.gaussian_kernels, options.gaussian_cutoff))
    return biases
