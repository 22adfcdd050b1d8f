"""The patch geometry of a ViT: patch size, training image size, channels, and the grid they give."""

from __future__ import annotations

from dataclasses import dataclass

from sciformer.config import ModelConfig
from sciformer.errors import ConfigError


@dataclass(frozen=True)
class Geometry:
    """`image_size` (H, W) is the size the position table was trained for; the grid is (H // p, W // p)."""

    patch_size: int
    image_size: tuple[int, int]
    channels: int

    def __post_init__(self) -> None:
        if not isinstance(self.patch_size, int) or self.patch_size < 1:
            raise ConfigError(f"domain_options.patch_size must be a positive integer, got {self.patch_size!r}")
        if min(self.image_size) < self.patch_size:
            raise ConfigError(f"domain_options.image_size {list(self.image_size)} is smaller than one patch ({self.patch_size})")

    @classmethod
    def from_config(cls, config: ModelConfig) -> Geometry:
        """Read `patch_size`, `image_size` and `channels` from `config.domain_options`."""
        missing = [name for name in ("patch_size", "image_size", "channels") if config.option(name) is None]
        if missing:
            raise ConfigError(f"the vision domain needs domain_options {missing} (train a model to learn image_size and channels from the data)")
        size = config.option("image_size")
        size = (size, size) if isinstance(size, int) else tuple(int(v) for v in size)
        if len(size) != 2:
            raise ConfigError(f"domain_options.image_size must be [H, W], got {config.option('image_size')!r}")
        return cls(int(config.option("patch_size")), size, int(config.option("channels")))

    @property
    def grid(self) -> tuple[int, int]:
        """Patches along height and width at the training size."""
        return grid_of(self.image_size, self.patch_size)

    @property
    def num_patches(self) -> int:
        """Patch tokens at the training size."""
        rows, cols = self.grid
        return rows * cols


def grid_of(size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """Patches a strided convolution cuts from an image of `size` (remainder pixels are dropped)."""
    return size[0] // patch_size, size[1] // patch_size
