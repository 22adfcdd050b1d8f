"""Swin V2's continuous position bias: a small MLP over log-spaced relative coordinates, looked up for a window."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .relative_positions import relative_index

HIDDEN = 512  # width of the bias MLP (Swin V2's `cpb_mlp`)
SPAN = 8.0  # relative coordinates are scaled to [-8, 8] before the log spacing
BIAS_RANGE = 16.0  # the bias is 16 * sigmoid(MLP output), in (0, 16)


def bias_mlp(heads: int) -> nn.Sequential:
    """2 -> 512 -> heads with a ReLU, no bias on the output (transformers' `continuous_position_bias_mlp`)."""
    return nn.Sequential(nn.Linear(2, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, heads, bias=False))


def coordinates_table(window: int, pretrained: int = 0) -> Tensor:
    """((2 window - 1)^2, 2) log-spaced offsets (dy, dx) of a window, rows as `relative_index` numbers them.

    Offsets are divided by `pretrained - 1` (a window the weights were trained with) or, when 0, by
    `window - 1`, scaled to [-8, 8] and mapped to sign(t) log2(1 + |t|) / 3.
    """
    offsets = torch.arange(1 - window, window, dtype=torch.float32)
    table = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1).reshape(-1, 2)
    if pretrained > 0:
        table = table / (pretrained - 1)
    elif window > 1:
        table = table / (window - 1)
    table = table * SPAN
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(SPAN)


def continuous_bias(mlp: nn.Module, table: Tensor, window: int) -> Tensor:
    """(1, heads, S, S) logit bias of a `window` window: 16 sigmoid(mlp(table)) looked up per slot pair."""
    values = mlp(table)  # ((2 window - 1)^2, heads)
    index = relative_index(window, window, table.device)
    return BIAS_RANGE * torch.sigmoid(values[index].permute(2, 0, 1)[None])
