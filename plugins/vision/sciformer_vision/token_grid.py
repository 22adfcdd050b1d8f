"""Where a Swin's tokens lie: the batch's patch grid and each record's own grid inside it (`Embedded.layout`)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .tokenizer import token_mask


class TokenGrid(NamedTuple):
    """Tokens are the batch grid `shape` (rows, cols), row-major; record b owns the top-left `records[b]` (rows, cols) of it."""

    shape: tuple[int, int]
    records: Tensor  # (B, 2) long

    def groups(self) -> list[tuple[tuple[int, int], Tensor]]:
        """Each distinct record grid and the batch rows (indices) that have it: records of one grid are windowed together."""
        distinct = sorted({tuple(g) for g in self.records.tolist()})
        return [(grid, ((self.records[:, 0] == grid[0]) & (self.records[:, 1] == grid[1])).nonzero()[:, 0]) for grid in distinct]

    def merged(self) -> TokenGrid:
        """The grid after 2x2 patch merging: odd sides padded by one, then halved."""
        return TokenGrid(((self.shape[0] + 1) // 2, (self.shape[1] + 1) // 2), (self.records + 1) // 2)

    def padding_mask(self) -> Tensor:
        """(B, rows * cols) True for each record's own tokens."""
        return token_mask(self.records, self.shape, special=0)

    def positions(self) -> Tensor:
        """(B, rows * cols) token indices."""
        return torch.arange(self.shape[0] * self.shape[1], device=self.records.device).expand(self.records.shape[0], -1)

    def token_index(self, grid: tuple[int, int], padded: tuple[int, int]) -> Tensor:
        """(padded rows, padded cols) batch-token index of each cell of a record's `grid` padded to `padded`; -1 in the padding."""
        rows = torch.arange(padded[0], device=self.records.device)[:, None]
        cols = torch.arange(padded[1], device=self.records.device)[None, :]
        index = rows * self.shape[1] + cols
        return index.masked_fill((rows >= grid[0]) | (cols >= grid[1]), -1)
