"""The image tokenizer: preprocess each image, pad a batch to its largest image, mask the padded patches.

Tokens are [CLS] followed by the patch grid of the padded batch, row-major (a Swin has no [CLS]). A record whose grid
(h, w) is smaller than the batch grid (GH, GW) owns the tokens at rows < h and columns < w; the
rest are padding. `extras["grid"]` (B, 2) tells the embedder each record's own grid, so it
places the position vectors resampled for that grid and a record gives the same output alone or
inside a padded batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.domain import Tokenizer
from sciformer.errors import BadRecordError
from sciformer.records import Record
from sciformer.targets import encode_target
from torch import Tensor

from .geometry import Geometry
from .preprocess import Preprocessing

GRID = "grid"  # extras key: (B, 2) long, each record's (rows, columns) of patches


class ImageEncoding(NamedTuple):
    """One preprocessed image (C, H, W) and its encoded target (None without one)."""

    pixels: Tensor
    target: int | float | None


class ImageTokenizer(Tokenizer):
    """Images -> TokenBatch with `features` (B, C, H, W) and a padding mask over [CLS] + patches."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.geometry = Geometry.from_config(config)
        self.preprocess = Preprocessing.from_config(config)

    def encode(self, record: Record) -> ImageEncoding:
        """Preprocess one record's image; BadRecordError for unreadable data or an image smaller than a patch."""
        if record.error:
            raise BadRecordError(record.id, record.error)
        pixels = self.preprocess(record.data, record.id)
        height, width = pixels.shape[-2:]
        if min(height, width) < self.geometry.patch_size:
            raise BadRecordError(record.id, f"image of {height}x{width} after preprocessing is smaller than one {self.geometry.patch_size}x{self.geometry.patch_size} patch")
        return ImageEncoding(pixels, encode_target(record, self.config))

    def collate(self, encoded: Sequence[ImageEncoding], record_ids: Sequence[str]) -> TokenBatch:
        """Zero-pad images to the largest height and width; targets become a tensor when all records have one."""
        grids = torch.tensor([self.geometry.grid_for(tuple(e.pixels.shape[-2:])) for e in encoded], dtype=torch.long)  # (B, 2)
        height = max(e.pixels.shape[-2] for e in encoded)
        width = max(e.pixels.shape[-1] for e in encoded)
        first = encoded[0].pixels
        features = first.new_zeros((len(encoded), first.shape[0], height, width))  # (B, C, H, W)
        for row, encoding in enumerate(encoded):
            features[row, :, : encoding.pixels.shape[-2], : encoding.pixels.shape[-1]] = encoding.pixels
        padding_mask = token_mask(grids, self.geometry.grid_for((height, width)), self.geometry.special_tokens)
        targets = [e.target for e in encoded]
        target_tensor = torch.tensor(targets) if all(t is not None for t in targets) else None
        return TokenBatch(padding_mask=padding_mask, record_ids=list(record_ids), features=features, extras={GRID: grids}, targets=target_tensor)

    def num_tokens(self, encoded: ImageEncoding) -> int:
        """[CLS] (not for a Swin) plus the image's patches."""
        rows, cols = self.geometry.grid_for(tuple(encoded.pixels.shape[-2:]))
        return self.geometry.special_tokens + rows * cols


def token_mask(grids: Tensor, batch_grid: tuple[int, int], special: int = 1) -> Tensor:
    """(B, special + GH * GW) True for the `special` leading tokens ([CLS]) and each record's own patches within the batch grid."""
    device = grids.device
    rows = torch.arange(batch_grid[0], device=device)[None, :, None] < grids[:, 0, None, None]  # (B, GH, 1)
    cols = torch.arange(batch_grid[1], device=device)[None, None, :] < grids[:, 1, None, None]  # (B, 1, GW)
    patches = (rows & cols).flatten(1)  # (B, GH * GW)
    return torch.cat([torch.ones(grids.shape[0], special, dtype=torch.bool, device=device), patches], dim=1)

