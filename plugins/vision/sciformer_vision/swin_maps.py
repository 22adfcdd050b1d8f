"""A Swin's attention maps on one common grid: each stage's (H, T_s, T_s) map lifted to the patch grid.

A token of stage s stands for the 2^s x 2^s block of patches it merged, so stage-s attention from
token p to token q becomes attention from each patch of p to each patch of q, spread evenly over
q's patches (rows still sum to what they summed to). Stages have different head counts; the lifted
maps are padded with NaN heads to the largest count, which the rollout's head fusion skips.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor


def stage_grids(grid: tuple[int, int], count: int) -> list[tuple[int, int]]:
    """The token grid of each of `count` stages starting from `grid` (odd sides rounded up by merging)."""
    grids = [grid]
    while len(grids) < count:
        rows, cols = grids[-1]
        grids.append(((rows + 1) // 2, (cols + 1) // 2))
    return grids


def parents(grid: tuple[int, int], stage: int) -> np.ndarray:
    """(rows * cols,) the stage-`stage` token each patch of `grid` was merged into."""
    merged_cols = stage_grids(grid, stage + 1)[-1][1]
    rows, cols = np.meshgrid(np.arange(grid[0]), np.arange(grid[1]), indexing="ij")
    return ((rows >> stage) * merged_cols + (cols >> stage)).reshape(-1)


def lift_to_patches(maps: list[Tensor], grid: tuple[int, int], stages: int) -> np.ndarray:
    """One record's maps, (H_l, T_l, T_l) per block over a model of `stages` stages, -> (layers, max H, P, P) over its P patches."""
    areas = [rows * cols for rows, cols in stage_grids(grid, stages)]
    heads = max(m.shape[0] for m in maps)
    patches = grid[0] * grid[1]
    lifted = np.full((len(maps), heads, patches, patches), np.nan)
    for layer, block in enumerate(maps):
        values = block.float().cpu().numpy().astype(np.float64)
        stage = areas.index(values.shape[-1])
        owner = parents(grid, stage)
        share = np.bincount(owner, minlength=values.shape[-1])[owner]  # patches in each key patch's token
        lifted[layer, : values.shape[0]] = values[:, owner][:, :, owner] / share
    return lifted
