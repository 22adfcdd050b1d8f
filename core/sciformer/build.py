"""Assemble a model from a configuration by asking the plugins for its components (once per build)."""

from __future__ import annotations

from torch import nn

from sciformer.config import ModelConfig
from sciformer.engine.attention import Attention
from sciformer.engine.blocks import Block
from sciformer.engine.heads import engine_head
from sciformer.engine.model import SciformerModel
from sciformer.engine.parts import PartMaker
from sciformer.engine.positions import query_key_positions
from sciformer.errors import PluginError
from sciformer.plugins import PluginHost


def build_model(config: ModelConfig, host: PluginHost) -> SciformerModel:
    """A freshly initialised model for `config`, built from the hooks of the installed plugins."""
    host.domain(config.domain)
    hook = host.pm.hook
    embedder = hook.sciformer_embedder(config=config)
    if embedder is None:
        raise PluginError(f"no plugin provides an embedder for domain {config.domain!r}")
    parts = PartMaker(config, hook.sciformer_block_parts())
    positions = query_key_positions(config)
    blocks = []
    for layer in range(config.depth):
        mixer = hook.sciformer_token_mixer(config=config, layer=layer, positions=positions) or Attention(config, positions, parts.norm)
        blocks.append(Block(mixer, parts.mlp(), parts.norm(config.dim), parts.norm(config.dim), pre_norm=config.norm == "pre", dropout=config.dropout))
    biases = [bias for result in hook.sciformer_attention_biases(config=config) for bias in result or []]
    head = hook.sciformer_head(config=config, embedder=embedder) or engine_head(config, embedder)
    final_norm = parts.norm(config.dim) if config.final_norm else nn.Identity()
    return SciformerModel(config, embedder, blocks, biases, head, final_norm)
