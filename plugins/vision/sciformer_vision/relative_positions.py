"""Swin's learned relative position bias: one table of (2w - 1)^2 offsets per head, looked up for a window and resized bicubically."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def table_window(table: Tensor) -> int:
    """The window size w a ((2w - 1)^2, heads) table was made for."""
    side = round(table.shape[0] ** 0.5)
    if side * side != table.shape[0] or side % 2 == 0:
        raise ValueError(f"a relative position table of {table.shape[0]} rows is not (2w - 1)^2 for a square window")
    return (side + 1) // 2


def relative_index(window: int, table_size: int, device: torch.device | None = None) -> Tensor:
    """(S, S) row of the table (made for windows of `table_size`) holding the offset between slots i and j of a `window` window."""
    cells = torch.arange(window, device=device)
    coords = torch.stack(torch.meshgrid(cells, cells, indexing="ij")).flatten(1).T  # (S, 2)
    offset = coords[:, None, :] - coords[None, :, :] + (table_size - 1)  # (S, S, 2), each in [0, 2 * table_size - 2]
    return offset[..., 0] * (2 * table_size - 1) + offset[..., 1]


def relative_bias(table: Tensor, window: int) -> Tensor:
    """(1, heads, S, S) logit bias of a `window` window (at most the table's window) from the table ((2w - 1)^2, heads)."""
    index = relative_index(window, table_window(table), table.device)
    return table[index].permute(2, 0, 1)[None]


def resize_table(table: Tensor, window: int) -> Tensor:
    """The table resampled bicubically to a `window` window, as timm's `resize_rel_pos_bias_table_simple`."""
    old = table_window(table)
    if old == window:
        return table
    heads = table.shape[1]
    grid = table.T.reshape(1, heads, 2 * old - 1, 2 * old - 1).float()
    grid = F.interpolate(grid, size=(2 * window - 1, 2 * window - 1), mode="bicubic", align_corners=False)
    return grid.reshape(heads, -1).T.to(table.dtype).contiguous()
