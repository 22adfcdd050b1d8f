"""Overlapping windows for sequences longer than the model's limit, and which copy of a residue is kept.

A sequence of L residues with L > size is cut into windows of exactly `size` residues that overlap by
at least `overlap`; the last window is shifted to end at the last residue. Each window is run as its
own ESM input (BOS, residues, EOS), and each residue's output is taken from the window in which it
sits furthest from an edge, where it saw the most context on both sides. Stitching the kept copies
gives one output per residue.
"""

from __future__ import annotations

import torch
from sciformer.errors import ConfigError
from torch import Tensor


def window_starts(length: int, size: int, overlap: int) -> list[int]:
    """0-based start of each window covering `length` residues."""
    if size < 1:
        raise ConfigError(f"window size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise ConfigError(f"window overlap must lie in [0, {size}), got {overlap}")
    if length <= size:
        return [0]
    step = size - overlap
    starts = list(range(0, length - size, step))
    return starts + [length - size]


def kept_window(length: int, starts: list[int], size: int) -> Tensor:
    """(L,) index of the window whose copy of each residue is kept (the most central one, earliest on ties)."""
    residue = torch.arange(length)[None, :]  # (1, L)
    start = torch.tensor(starts)[:, None]  # (W, 1)
    inside = (residue >= start) & (residue < start + size)  # (W, L)
    centrality = torch.minimum(residue - start, start + size - 1 - residue)  # (W, L) distance to the nearer edge
    centrality = torch.where(inside, centrality, torch.full_like(centrality, -1))
    return centrality.argmax(dim=0)  # first maximum = earliest window on ties
