"""Assemble a model from a configuration: its domain builds the components, plugins add parts and biases (once per build)."""

from __future__ import annotations

from torch import nn

from sciformer.config import ModelConfig
from sciformer.engine.attention import Attention
from sciformer.engine.blocks import Block
from sciformer.engine.heads import engine_head
from sciformer.engine.model import SciformerModel
from sciformer.engine.parts import MixerParts, PartMaker
from sciformer.engine.positions import query_key_positions
from sciformer.plugins import PluginHost


def build_model(config: ModelConfig, host: PluginHost) -> SciformerModel:
    """A freshly initialised model for `config`, built from the hooks of the installed plugins."""
    domain = host.domain(config.domain)
    hook = host.pm.hook
    embedder = domain.embedder(config)
    parts = PartMaker(config, hook.sciformer_block_parts())
    shared = MixerParts(query_key_positions(config), parts.norm)
    blocks = []
    for layer in range(config.depth):
        mixer = domain.token_mixer(config, layer, shared) or Attention(config, shared.positions, shared.norm)
        blocks.append(Block(mixer, parts.mlp(), parts.norm(config.dim), parts.norm(config.dim), pre_norm=config.norm == "pre", dropout=config.dropout))
    added = [bias for result in hook.sciformer_attention_biases(config=config) for bias in result or []]
    head = domain.head(config, embedder) or engine_head(config, embedder)
    final_norm = parts.norm(config.dim) if config.final_norm else nn.Identity()
    return SciformerModel(config, embedder, blocks, [*domain.attention_biases(config), *added], head, final_norm)
