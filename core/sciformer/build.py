"""Assemble a model from a configuration by asking the plugins for its components (once per build)."""

from __future__ import annotations

from sciformer.config import ModelConfig
from sciformer.engine.attention import Attention
from sciformer.engine.heads import engine_head
from sciformer.engine.model import SciformerModel
from sciformer.engine.positions import RotaryPositions
from sciformer.errors import PluginError
from sciformer.plugins import PluginHost


def build_model(config: ModelConfig, host: PluginHost) -> SciformerModel:
    """A freshly initialised model for `config`, built from the hooks of the installed plugins."""
    host.domain(config.domain)
    hook = host.pm.hook
    embedder = hook.sciformer_embedder(config=config)
    if embedder is None:
        raise PluginError(f"no plugin provides an embedder for domain {config.domain!r}")
    rotary = RotaryPositions(config.head_dim) if config.position == "rotary" else None
    mixers = [hook.sciformer_token_mixer(config=config, layer=layer) or Attention(config, rotary) for layer in range(config.depth)]
    biases = [bias for result in hook.sciformer_attention_biases(config=config) for bias in result or []]
    head = hook.sciformer_head(config=config, embedder=embedder) or engine_head(config, embedder)
    return SciformerModel(config, embedder, mixers, biases, head)
