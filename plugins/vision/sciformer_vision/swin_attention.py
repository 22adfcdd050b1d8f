"""Swin's (shifted) window attention: the engine's attention run per window, windows folded into the batch.

Each record's token grid (`Embedded.layout`, a `TokenGrid`) is cut into windows of `window` x `window`
tokens, cyclically shifted by `shift` in every other block (swin_windows.py). The windows become rows
of one batch; the engine's `Attention` (fused SDPA, or the reference path that returns maps) runs on
them with an `AttentionInputs` whose logit bias is the learned relative position bias plus the
shifted-window mask plus the layer's own masks and biases gathered for each window. Maps come back
stitched into one (B, H, T, T) map per block: zero between windows, at the tokens' image positions.
"""

from __future__ import annotations

import abc
from dataclasses import replace
from typing import Any

import torch
from sciformer.config import ModelConfig
from sciformer.engine.attention import Attention
from sciformer.engine.context import Embedded, LayerContext, Mixed
from sciformer.engine.masking import AttentionInputs
from sciformer.engine.parts import NormMaker
from torch import Tensor, nn

from .relative_positions import relative_bias, resize_table
from .swin_windows import clamp_window, padded_size, shift_mask, stitch, window_blocks, window_index
from .token_grid import TokenGrid

TABLE = "relative_position_bias_table"


class ShiftedWindowAttention(Attention, abc.ABC):
    """The engine's `Attention` (same weights and names) inside (shifted) windows; subclasses give the
    relative position bias (`position_bias`) and may fix the window (`window_for`)."""

    def __init__(
        self, config: ModelConfig, window: int, shift: int, positions: nn.Module | None = None, norm: NormMaker | None = None
    ) -> None:
        super().__init__(config, positions, norm)
        self.window = window
        self.shift = shift

    @abc.abstractmethod
    def position_bias(self, window: int) -> Tensor:
        """(1, heads, S, S) relative position logit bias of a `window` window."""

    def window_for(self, grid: tuple[int, int]) -> tuple[int, int]:
        """(window, shift) for a record of `grid`: clamped to the grid, as transformers' Swin V1 does at each call."""
        return clamp_window(grid, self.window, self.shift)

    def forward(self, x: Tensor, ctx: LayerContext, attention: AttentionInputs) -> Mixed:
        """(B, T, D) -> (B, T, D), with (B, H, T, T) maps stitched from the windows when asked for."""
        layout: TokenGrid = ctx.embedded.layout
        batch, length, dim = x.shape
        additive = attention.additive(length, torch.float32, x.device)
        hidden: Tensor | None = None
        maps = x.new_zeros(batch, self.heads, length, length, dtype=torch.float32) if attention.need_weights else None
        for grid, members in layout.groups():
            window, shift = self.window_for(grid)
            index = window_index(layout, grid, window, shift)  # (nW, S)
            windows = index.shape[0]
            rows = members.repeat_interleave(windows)  # (N,) batch row of each window
            index = index.repeat(members.shape[0], 1)  # (N, S)
            real = index >= 0
            logits = self.position_bias(window).float()  # (1, H, S, S)
            shifted = shift_mask(padded_size(grid, window), window, shift, x.device)
            if shifted is not None:
                logits = logits + shifted.repeat(members.shape[0], 1, 1)[:, None]
            gathered = window_blocks(additive, rows, index, length, 0.0)
            inputs = replace(
                attention,
                mask=logits if gathered is None else logits + gathered,
                is_causal=False,
                mixture=window_blocks(attention.mixture, rows, index, length, 0.0),
                attention_weight=window_blocks(attention.attention_weight, rows, index, length, 1.0),
            )
            tokens = x[rows[:, None], index.clamp(min=0)].masked_fill(~real[..., None], 0.0)  # (N, S, D), zero padding
            positions = ctx.embedded.positions[rows[:, None], index.clamp(min=0)]
            inner = LayerContext(batch=ctx.batch, embedded=Embedded(tokens, real, real, positions, layout), layer=ctx.layer, state=ctx.state)
            inside = super().forward(tokens, inner, inputs)
            if hidden is None:
                hidden = inside.hidden.new_zeros(batch * length, dim)  # in the autocast dtype if any
            hidden[(rows[:, None] * length + index)[real]] = inside.hidden[real]
            if maps is not None:
                stitch(inside.attention, rows, index, maps)
        return Mixed(hidden.view(batch, length, dim), maps)


class WindowAttention(ShiftedWindowAttention):
    """Swin V1's window attention: a learned relative position table.

    `relative_position_bias_table` ((2 window - 1)^2, heads); a state dict with a table of another
    window is resized bicubically when loaded (`resize_table`).
    """

    def __init__(
        self, config: ModelConfig, window: int, shift: int, positions: nn.Module | None = None, norm: NormMaker | None = None
    ) -> None:
        super().__init__(config, window, shift, positions, norm)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, config.heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_load_state_dict_pre_hook(_resize_loaded_table)

    def position_bias(self, window: int) -> Tensor:
        """(1, heads, S, S) looked up in the table (a window at most the table's)."""
        return relative_bias(self.relative_position_bias_table, window)


def _resize_loaded_table(module: WindowAttention, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load-time hook: a table made for another window is resized to this module's."""
    name = prefix + TABLE
    if name in state_dict and state_dict[name].shape != module.relative_position_bias_table.shape:
        state_dict[name] = resize_table(state_dict[name], module.window)
