"""Swin V2's window attention: a continuous position bias, and windows fixed when the model is built.

The engine's cosine attention form (`ModelConfig.attention_form = "cosine"`) gives V2's scaled cosine
similarity; this module adds the bias MLP (continuous_positions.py) where V1 has its table. As
transformers' `Swinv2Layer`, each stage's window and shift are set from the configured image size,
not from each image: a smaller grid is padded to the window.
"""

from __future__ import annotations

from sciformer.config import ModelConfig
from sciformer.engine.parts import NormMaker
from sciformer.errors import ConfigError
from torch import Tensor, nn

from .continuous_positions import bias_mlp, continuous_bias, coordinates_table
from .geometry import WINDOW, Geometry
from .swin_attention import ShiftedWindowAttention

PRETRAINED_WINDOWS = "pretrained_window_sizes"  # domain_options key: per stage, the window the bias MLP was trained with (0: its own)


class CosineWindowAttention(ShiftedWindowAttention):
    """Window attention with Swin V2's continuous position bias (`continuous_position_bias_mlp`, 2 -> 512 -> heads)."""

    def __init__(
        self,
        config: ModelConfig,
        window: int,
        shift: int,
        pretrained: int = 0,
        positions: nn.Module | None = None,
        norm: NormMaker | None = None,
    ) -> None:
        super().__init__(config, window, shift, positions, norm)
        self.continuous_position_bias_mlp = bias_mlp(config.heads)
        self.register_buffer("coordinates", coordinates_table(window, pretrained), persistent=False)

    def position_bias(self, window: int) -> Tensor:
        """(1, heads, S, S): 16 sigmoid of the MLP over the window's log-spaced offsets."""
        return continuous_bias(self.continuous_position_bias_mlp, self.coordinates, window)

    def window_for(self, grid: tuple[int, int]) -> tuple[int, int]:
        """The window and shift fixed at build, whatever the record's grid."""
        return self.window, self.shift


def stage_window(config: ModelConfig, stage: int, index: int) -> tuple[int, int]:
    """(window, shift) of block `index` of `stage`, as `Swinv2Layer` sets them from the configured image size:
    a stage whose (floored) grid height is at most the window has one unshifted window of that height."""
    geometry = Geometry.from_config(config)
    rows = max(1, geometry.image_size[0] // geometry.patch_size // 2**stage)
    window = int(config.option(WINDOW))
    if rows <= window:
        return rows, 0
    return window, window // 2 if index % 2 else 0


def pretrained_window(config: ModelConfig, stage: int) -> int:
    """The window stage `stage`'s bias MLP normalises offsets by (`domain_options.pretrained_window_sizes`; 0: its own)."""
    sizes = config.option(PRETRAINED_WINDOWS) or [0] * len(config.stages)
    if len(sizes) < len(config.stages) or any(not isinstance(v, int) or v < 0 or v == 1 for v in sizes):
        wanted = f"0 or a window > 1 for each of {len(config.stages)} stages"
        raise ConfigError(f"domain_options.{PRETRAINED_WINDOWS} must give {wanted}, got {sizes!r}")
    return sizes[stage]
