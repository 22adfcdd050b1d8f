"""Swin's windows as index maps: which batch token sits in each window slot, the shifted-window mask, and maps stitched back.

A record's token grid is padded to whole windows, cyclically shifted by `shift` (for the shifted
blocks) and cut into windows exactly as transformers' `SwinLayer` does (`maybe_pad`, `cyclic_shift`,
`window_partition`), but on the batch-token index instead of the features: slot s of window n holds
batch token `index[n, s]`, or -1 for a padding cell (transformers pads with zeros after the norm and
masks those cells only through the shifted-window mask, which is reproduced here).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .token_grid import TokenGrid

SHIFT_MASK = -100.0  # transformers' and the original Swin's additive mask between regions of a shifted window


def clamp_window(grid: tuple[int, int], window: int, shift: int) -> tuple[int, int]:
    """(window, shift) for a record grid, as `SwinLayer.set_shift_and_window_size`: a grid no larger than
    the window is one unshifted window of its shorter side."""
    if min(grid) <= window:
        return min(grid), 0
    return window, shift


def padded_size(grid: tuple[int, int], window: int) -> tuple[int, int]:
    """The grid padded at the bottom and right to whole windows."""
    return -(-grid[0] // window) * window, -(-grid[1] // window) * window


def partition(cells: Tensor, window: int) -> Tensor:
    """(Hp, Wp) cells -> (windows, window * window), windows and their cells row-major (`window_partition`)."""
    rows, cols = cells.shape
    return cells.view(rows // window, window, cols // window, window).transpose(1, 2).reshape(-1, window * window)


def window_index(layout: TokenGrid, grid: tuple[int, int], window: int, shift: int) -> Tensor:
    """(windows, S) batch-token index of each window slot of a record with `grid` (-1: padding)."""
    index = layout.token_index(grid, padded_size(grid, window))
    if shift:
        index = torch.roll(index, shifts=(-shift, -shift), dims=(0, 1))
    return partition(index, window)


def shift_mask(padded: tuple[int, int], window: int, shift: int, device: torch.device) -> Tensor | None:
    """(windows, S, S) additive mask keeping tokens that the cyclic shift brought together from opposite
    edges apart (`SwinLayer.get_attn_mask`), or None without a shift."""
    if not shift:
        return None
    rows = torch.arange(padded[0], device=device)
    cols = torch.arange(padded[1], device=device)
    row_region = (rows >= padded[0] - window).long() + (rows >= padded[0] - shift).long()
    col_region = (cols >= padded[1] - window).long() + (cols >= padded[1] - shift).long()
    regions = partition(row_region[:, None] * 3 + col_region[None, :], window)  # (windows, S)
    apart = regions[:, None, :] != regions[:, :, None]
    return torch.zeros(apart.shape, device=device).masked_fill(apart, SHIFT_MASK)


def window_blocks(t: Tensor | float | None, rows: Tensor, index: Tensor, length: int, fill: float) -> Tensor | float | None:
    """A (B|1, H|1, T|1, T|1) mask, bias or weight -> (N, H|1, S|1, S|1) for windows of batch rows `rows` (N,)
    holding tokens `index` (N, S); padding slots take `fill`."""
    if not isinstance(t, Tensor):
        return t
    if t.dim() < 4:
        t = t.reshape(*([1] * (4 - t.dim())), *t.shape)
    t = t[rows] if t.shape[0] > 1 else t.expand(rows.shape[0], *t.shape[1:])
    padding, safe = index < 0, index.clamp(min=0)
    if t.shape[3] == length:
        t = t.gather(3, safe[:, None, None, :].expand(*t.shape[:3], -1)).masked_fill(padding[:, None, None, :], fill)
    if t.shape[2] == length:
        t = t.gather(2, safe[:, None, :, None].expand(t.shape[0], t.shape[1], -1, t.shape[3])).masked_fill(padding[:, None, :, None], fill)
    return t


def stitch(maps: Tensor, rows: Tensor, index: Tensor, out: Tensor) -> None:
    """Write window maps (N, H, S, S) into `out` (B, H, T, T) at their batch rows and tokens (padding slots dropped)."""
    real = (index[:, :, None] >= 0) & (index[:, None, :] >= 0)  # (N, S, S)
    batch_rows = rows[:, None, None].expand_as(real)[real]
    queries = index[:, :, None].expand_as(real)[real]
    keys = index[:, None, :].expand_as(real)[real]
    out[batch_rows, :, queries, keys] = maps.permute(0, 2, 3, 1)[real].to(out.dtype)
