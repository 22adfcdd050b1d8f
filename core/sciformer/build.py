"""Assemble a model from a configuration: its domain builds the components, plugins add parts and biases (once per build)."""

from __future__ import annotations

from torch import nn

from sciformer.config import ModelConfig
from sciformer.engine.attention import Attention
from sciformer.engine.blocks import Block
from sciformer.engine.cross_attention import CrossAttention
from sciformer.engine.decoder import Decoder, DecoderBlock
from sciformer.engine.heads import engine_head
from sciformer.engine.model import SciformerModel
from sciformer.engine.parts import MixerParts, PartMaker
from sciformer.engine.positions import query_key_positions
from sciformer.errors import ConfigError
from sciformer.plugins import OwnedDomain, PluginHost


def build_model(config: ModelConfig, host: PluginHost) -> SciformerModel:
    """A freshly initialised model for `config`, built from the hooks of the installed plugins.

    Stage s (one unless `config.stage_depths` is set) is built with `config.stage_config(s)`; the
    domain's `downsample` steps sit between stages, and the final norm and head take the last width.
    With `config.decoder_depth`, a decoder over the domain's decoder tokens follows (see decoder.py).
    """
    domain = host.domain(config.domain)
    hook = host.pm.hook
    embedder = domain.embedder(config)
    contributed = list(hook.sciformer_block_parts())
    blocks, downsamples = [], {}
    for stage, (_, _, depth) in enumerate(config.stages):
        settings = config.stage_config(stage)
        parts = PartMaker(settings, contributed)
        shared = MixerParts(query_key_positions(settings), parts.norm)
        for _ in range(depth):
            layer = len(blocks)
            mixer = domain.token_mixer(settings, layer, shared) or Attention(settings, shared.positions, shared.norm)
            blocks.append(Block(mixer, parts.mlp(), parts.norm(settings.dim), parts.norm(settings.dim), order=config.norm, dropout=config.dropout))
        if stage < len(config.stages) - 1 and (step := domain.downsample(config, stage)) is not None:
            downsamples[str(stage)] = step
    last = config.stage_config(len(config.stages) - 1)
    added = [bias for result in hook.sciformer_attention_biases(config=config) for bias in result or []]
    head = domain.head(last, embedder) or engine_head(last, embedder)
    final_norm = PartMaker(last, contributed).norm(last.dim) if config.final_norm else nn.Identity()
    decoder = build_decoder(config, domain, PartMaker(config, contributed)) if config.decoder_depth else None
    return SciformerModel(config, embedder, blocks, [*domain.attention_biases(config), *added], head, final_norm, downsamples, decoder)


def build_decoder(config: ModelConfig, domain: OwnedDomain, parts: PartMaker) -> Decoder:
    """`config.decoder_depth` decoder blocks of the model's width, heads, norms and feed-forward, on the
    tokens of the domain's decoder embedder."""
    embedder = domain.decoder_embedder(config)
    if embedder is None:
        raise ConfigError(f"model.decoder_depth is {config.decoder_depth}, but domain {config.domain!r} makes no decoder tokens (Domain.decoder_embedder)")
    positions = query_key_positions(config)
    blocks = [
        DecoderBlock(
            Attention(config, positions, parts.norm), CrossAttention(config), parts.mlp(),
            (parts.norm(config.dim), parts.norm(config.dim), parts.norm(config.dim)), order=config.norm, dropout=config.dropout,
        )
        for _ in range(config.decoder_depth)
    ]  # fmt: skip
    return Decoder(embedder, blocks, parts.norm(config.dim) if config.final_norm else nn.Identity())
