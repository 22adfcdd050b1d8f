"""Swin's patch merging between stages: each 2x2 block of tokens -> one token of twice the width."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sciformer.engine.context import Embedded
from torch import Tensor, nn

from .token_grid import TokenGrid

MERGING_NORM_EPS = 1e-5  # transformers' SwinPatchMerging uses LayerNorm's default, not layer_norm_eps


class PatchMerging(nn.Module):
    """`Embedded` of a (rows, cols) grid of width D -> of the (ceil(rows / 2), ceil(cols / 2)) grid of width 2D.

    As transformers' `SwinPatchMerging`: a record's grid with an odd side is zero-padded by one row or
    column, the four tokens of each 2x2 block are concatenated ((0, 0), (1, 0), (0, 1), (1, 1)),
    normalised and projected (no bias). With `norm_last` (Swin V2's `Swinv2PatchMerging`) they are
    projected, then normalised at width 2D. Each record is merged on its own grid.
    """

    def __init__(self, dim: int, norm_last: bool = False) -> None:
        super().__init__()
        self.norm_last = norm_last
        self.norm = nn.LayerNorm(2 * dim if norm_last else 4 * dim, eps=MERGING_NORM_EPS)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, embedded: Embedded) -> Embedded:
        """Merge the tokens of every record; padding tokens of the new grid are zero and masked."""
        layout: TokenGrid = embedded.layout
        merged = layout.merged()
        x = embedded.hidden
        batch, _, dim = x.shape
        out: Tensor | None = None
        for (rows, cols), members in layout.groups():
            tokens = x[members].view(members.shape[0], *layout.shape, dim)[:, :rows, :cols]
            tokens = F.pad(tokens, (0, 0, 0, cols % 2, 0, rows % 2))
            tokens = merge_blocks(tokens)
            reduced = self.norm(self.reduction(tokens)) if self.norm_last else self.reduction(self.norm(tokens))  # (n, h, w, 2D)
            if out is None:
                out = reduced.new_zeros(batch, *merged.shape, 2 * dim)
            out[members, : reduced.shape[1], : reduced.shape[2]] = reduced
        mask = merged.padding_mask()
        return Embedded(out.flatten(1, 2), mask, mask, merged.positions(), merged)


def merge_blocks(tokens: Tensor) -> Tensor:
    """(n, 2h, 2w, D) -> (n, h, w, 4D): the 2x2 blocks' tokens side by side, rows varying fastest."""
    return torch.cat([tokens[:, row::2, col::2] for col in range(2) for row in range(2)], dim=-1)
