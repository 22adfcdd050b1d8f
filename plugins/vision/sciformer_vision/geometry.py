"""The patch geometry of a ViT or a Swin: patch size, training image size, channels, and the grid they give."""

from __future__ import annotations

from dataclasses import dataclass

from sciformer.config import ModelConfig
from sciformer.errors import ConfigError

WINDOW = "window_size"  # domain_options key: a Swin's attention window (in tokens); absent for a ViT
SWIN_VERSION = "swin_version"  # domain_options key: 1 (default) or 2 (continuous position bias, fixed windows, norm-last merging)


def is_swin(config: ModelConfig) -> bool:
    """Whether `config` describes a Swin transformer (windowed attention, no [CLS]) rather than a ViT."""
    return config.option(WINDOW) is not None


def swin_version(config: ModelConfig) -> int:
    """A Swin's version, 1 or 2 (`domain_options.swin_version`, default 1)."""
    version = config.option(SWIN_VERSION, 1)
    if version not in (1, 2):
        raise ConfigError(f"domain_options.{SWIN_VERSION} must be 1 or 2, got {version!r}")
    return version


@dataclass(frozen=True)
class Geometry:
    """`image_size` (H, W) is the size the position table was trained for; the grid is (H // p, W // p).

    `swin`: tokens are the patch grid alone (no [CLS]) and a partial patch at the right or bottom edge
    is kept, zero-padded, as transformers' Swin pads images to whole patches (a ViT drops it)."""

    patch_size: int
    image_size: tuple[int, int]
    channels: int
    swin: bool = False

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
        return cls(int(config.option("patch_size")), size, int(config.option("channels")), is_swin(config))

    @property
    def grid(self) -> tuple[int, int]:
        """Patches along height and width at the training size."""
        return self.grid_for(self.image_size)

    @property
    def special_tokens(self) -> int:
        """Tokens before the patches: one [CLS] for a ViT, none for a Swin."""
        return 0 if self.swin else 1

    def grid_for(self, size: tuple[int, int]) -> tuple[int, int]:
        """Patches along height and width of an image of `size` (H, W)."""
        return grid_of(size, self.patch_size, partial=self.swin)

    @property
    def num_patches(self) -> int:
        """Patch tokens at the training size."""
        rows, cols = self.grid
        return rows * cols


def grid_of(size: tuple[int, int], patch_size: int, partial: bool = False) -> tuple[int, int]:
    """Patches a strided convolution cuts from an image of `size`: remainder pixels are dropped, or
    with `partial` make one more zero-padded patch."""
    if partial:
        return -(-size[0] // patch_size), -(-size[1] // patch_size)
    return size[0] // patch_size, size[1] // patch_size
