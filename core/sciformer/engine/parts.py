"""Block parts chosen by name: the norm layer and the feed-forward of every block.

`ModelConfig.norm_layer` and `ModelConfig.mlp_layer` name them. The engine provides `layernorm`,
`rmsnorm` and `mlp`; a plugin adds its own kinds through the `sciformer_block_parts` hook (the
molecule plugin adds MAT's norm and one-layer feed-forward, so MAT weights import exactly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from torch import nn

from sciformer.config import ModelConfig
from sciformer.engine.blocks import MLP
from sciformer.errors import ConfigError

NormMaker = Callable[[int], nn.Module]  # width -> a norm over the last axis of that width
NormFactory = Callable[[int, ModelConfig], nn.Module]  # (width, config) -> norm module
MlpFactory = Callable[[ModelConfig, NormMaker], nn.Module]  # (config, norm maker) -> (B, T, D) -> (B, T, D)


@dataclass(frozen=True)
class BlockParts:
    """Named norm layers and feed-forwards (what the `sciformer_block_parts` hook returns).

    `norms[name](width, config)` returns a norm over the last axis of that width; `mlps[name](config, norm)`
    returns a (B, T, D) -> (B, T, D) module, where `norm(width)` makes a norm of the configured kind.
    """

    norms: Mapping[str, NormFactory] = field(default_factory=dict)
    mlps: Mapping[str, MlpFactory] = field(default_factory=dict)


ENGINE_PARTS = BlockParts(
    norms={
        "layernorm": lambda width, config: nn.LayerNorm(width, eps=config.norm_eps),
        "rmsnorm": lambda width, config: nn.RMSNorm(width, eps=config.norm_eps),
    },
    mlps={"mlp": lambda config, norm: MLP(config, norm(config.mlp_dim) if config.mlp_norm else None)},
)


@dataclass(frozen=True)
class MixerParts:
    """What every token mixer receives from the engine: `positions`, the module that moves queries and
    keys (rotary; called as `positions(q, k, token_positions)`) or None, and `norm`, a callable
    `norm(width) -> nn.Module` making norms of the configured kind (for q-k norms)."""

    positions: nn.Module | None
    norm: NormMaker


class PartMaker:
    """Makes the configured norm layers and feed-forwards from the engine's parts and the plugins'."""

    def __init__(self, config: ModelConfig, contributed: Iterable[BlockParts | None] = ()) -> None:
        norms, mlps = dict(ENGINE_PARTS.norms), dict(ENGINE_PARTS.mlps)
        for parts in contributed:
            if parts is not None:
                norms.update(parts.norms)
                mlps.update(parts.mlps)
        if config.norm_layer not in norms:
            raise ConfigError(f"model.norm_layer {config.norm_layer!r} is not a known norm layer (known: {', '.join(sorted(norms))})")
        if config.mlp_layer not in mlps:
            raise ConfigError(f"model.mlp_layer {config.mlp_layer!r} is not a known feed-forward (known: {', '.join(sorted(mlps))})")
        self.config = config
        self._norm = norms[config.norm_layer]
        self._mlp = mlps[config.mlp_layer]

    def norm(self, width: int) -> nn.Module:
        """A fresh norm layer of the configured kind over `width` features."""
        return self._norm(width, self.config)

    def mlp(self) -> nn.Module:
        """A fresh feed-forward of the configured kind."""
        return self._mlp(self.config, self.norm)
