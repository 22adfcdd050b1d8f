"""Training-time augmentations of image batches: random integer shifts and small random affine maps.

Both move the image content and keep its label (no flips: a mirrored digit is another symbol). Areas
uncovered by the move repeat the border pixels, which for digits, cells and most scientific images
is background. They act on the preprocessed (B, C, H, W) batch, padding of smaller images included.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from sciformer.augmentation import Augmentation, BatchTransform
from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError


def random_shift(pixels: int = 2) -> BatchTransform:
    """Shift each image by a whole number of pixels drawn from [-pixels, pixels] along each axis."""
    if not isinstance(pixels, int) or pixels < 1:
        raise ConfigError(f"training.augment.random_shift.pixels must be a whole number of at least 1, got {pixels!r}")

    def transform(batch: TokenBatch, generator: torch.Generator) -> TokenBatch:
        images = batch.features  # (B, C, H, W)
        size, _, height, width = images.shape
        padded = F.pad(images, (pixels, pixels, pixels, pixels), mode="replicate")
        offsets = torch.randint(0, 2 * pixels + 1, (size, 2), generator=generator)
        shifted = torch.stack([padded[i, :, dy : dy + height, dx : dx + width] for i, (dy, dx) in enumerate(offsets.tolist())])
        return replace(batch, features=shifted)

    return transform


def random_affine(degrees: float = 10.0, translate: float = 0.1, scale: float = 0.1) -> BatchTransform:
    """Rotate each image by up to `degrees`, move it by up to `translate` of its size along each axis
    and zoom it by a factor within 1 +- `scale` (bilinear resampling)."""
    for name, value, top in (("degrees", degrees, 180.0), ("translate", translate, 1.0), ("scale", scale, 1.0)):
        if not isinstance(value, (int, float)) or not 0.0 <= value < top:
            raise ConfigError(f"training.augment.random_affine.{name} must lie in [0, {top:g}), got {value!r}")

    def transform(batch: TokenBatch, generator: torch.Generator) -> TokenBatch:
        images = batch.features  # (B, C, H, W)
        size = images.shape[0]

        def uniform(bound: float, *shape: int) -> torch.Tensor:
            return (torch.rand(size, *shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound

        angle = uniform(math.radians(degrees))
        zoom = 1.0 + uniform(scale)
        shift = uniform(translate * 2, 2)  # affine_grid's coordinates span [-1, 1]: the image's size is 2
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], dim=1), torch.stack([sin, cos, shift[:, 1]], dim=1)], dim=1)
        grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
        moved = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return replace(batch, features=moved)

    return transform


AUGMENTATIONS = [
    Augmentation("random_shift", "shift each image by up to `pixels` whole pixels along each axis (border repeated)", random_shift),
    Augmentation("random_affine", "rotate by up to `degrees`, move by up to `translate` of the size, zoom by 1 +- `scale`", random_affine),
]
