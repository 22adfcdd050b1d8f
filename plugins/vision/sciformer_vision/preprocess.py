"""Preprocessing as a model's weights expect it: channels, resize, centre crop, rescale, normalise.

Every setting lives in the model's `domain_options`, so a checkpoint (trained or imported) carries
the preprocessing it was trained with:

- `channels`: channels the model takes. Grey images are repeated to match, an alpha channel is
  dropped (RGBA -> RGB, grey+alpha -> grey), RGB becomes grey by ITU-R 601 luma for 1-channel models.
- `resize`: None (keep the size), an int (the shorter side, aspect kept, as timm and torchvision
  do) or [H, W] (exact, as transformers' ViT processor does).
- `crop`: None or [H, W], a centre crop after resizing.
- `resample`: `bilinear`, `bicubic` or `nearest`, Pillow's filters (antialiased when shrinking).
- `rescale`, `pixel_dtype`, `pixel_range`: how pixel values are scaled, by what they mean rather
  than by their dtype (see pixel_values.py): a factor, and the dtype and range of the training images.
- `mean`, `std`: per-channel normalisation after rescaling, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError, ConfigError
from torch import Tensor

from .pixel_values import PixelValues

RESAMPLE = ("bilinear", "bicubic", "nearest")
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as Pillow's convert("L")
PIL_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}
EIGHT_BIT_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA: resized as 8-bit Pillow images


@dataclass(frozen=True)
class Preprocessing:
    """Turns one image (H, W[, C]) into the float (C, H', W') tensor the model takes."""

    channels: int
    resize: int | tuple[int, int] | None = None
    crop: tuple[int, int] | None = None
    resample: str = "bilinear"
    rescale: float | None = None
    pixel_dtype: str | None = None
    pixel_range: tuple[float, float] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        _ = self.values  # PixelValues checks rescale, pixel_dtype and pixel_range
        if not isinstance(self.channels, int) or self.channels < 1:
            raise ConfigError(f"domain_options.channels must be a positive integer, got {self.channels!r}")
        if self.resample not in RESAMPLE:
            raise ConfigError(f"domain_options.resample must be one of {list(RESAMPLE)}, got {self.resample!r}")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is not None and len(values) != self.channels:
                raise ConfigError(f"domain_options.{name} needs one value per channel ({self.channels}), got {list(values)}")
        if self.std is not None and any(v <= 0 for v in self.std):
            raise ConfigError(f"domain_options.std must be positive, got {list(self.std)}")
        if (self.mean is None) != (self.std is None):
            raise ConfigError("domain_options.mean and std go together: give both or neither")

    @classmethod
    def from_config(cls, config: ModelConfig, *, normalise: bool = True) -> Preprocessing:
        """The preprocessing stored in `config.domain_options` (without mean / std when `normalise` is False)."""
        channels = config.option("channels")
        if channels is None:
            raise ConfigError("the vision domain needs domain_options.channels (train a model to learn it from the data)")
        resize = config.option("resize")
        mean, std = config.option("mean"), config.option("std")
        return cls(
            channels=channels,
            resize=resize if resize is None or isinstance(resize, int) else _pair("resize", resize),
            crop=None if config.option("crop") is None else _pair("crop", config.option("crop")),
            resample=config.option("resample", "bilinear"),
            rescale=config.option("rescale"),
            pixel_dtype=config.option("pixel_dtype"),
            pixel_range=None if config.option("pixel_range") is None else tuple(config.option("pixel_range")),
            mean=tuple(mean) if normalise and mean is not None else None,
            std=tuple(std) if normalise and std is not None else None,
        )

    @property
    def values(self) -> PixelValues:
        """What the pixel values mean: the scale and the training images' dtype and range."""
        return PixelValues(self.rescale, self.pixel_dtype, self.pixel_range)

    def __call__(self, image: Any, record_id: str) -> Tensor:
        """(C, H', W') float32 pixels ready for the patch embedding; BadRecordError when unusable."""
        array, scale = self.values(as_image(image, record_id), record_id)
        array = self.cropped(self.resized(array), record_id)
        pixels = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1) * scale  # (C, H, W)
        pixels = self.match_channels(pixels, record_id)
        if self.mean is not None:
            mean = torch.tensor(self.mean, dtype=torch.float32)[:, None, None]
            std = torch.tensor(self.std, dtype=torch.float32)[:, None, None]
            pixels = (pixels - mean) / std
        return pixels.contiguous()

    def match_channels(self, pixels: Tensor, record_id: str) -> Tensor:
        """(c, H, W) -> (channels, H, W) by the rules in the module docstring."""
        have, want = pixels.shape[0], self.channels
        if have == want:
            return pixels
        if have == 1:
            return pixels.expand(want, -1, -1)
        if (have, want) in ((4, 3), (2, 1)):
            return pixels[:want]
        if have in (3, 4) and want == 1:
            weights = torch.tensor(LUMA, dtype=pixels.dtype)[:, None, None]
            return (pixels[:3] * weights).sum(dim=0, keepdim=True)
        raise BadRecordError(record_id, f"image has {have} channels, the model takes {want}")

    def resized(self, array: np.ndarray) -> np.ndarray:
        """(H, W, C) resized to `resize` (shorter side or exact size) with Pillow's filters.

        8-bit grey, RGB and RGBA images are resized as Pillow images (rounded to 8 bits, exactly as
        the transformers and timm pipelines do); other images channel by channel in float32.
        """
        if self.resize is None:
            return array
        height, width = array.shape[:2]
        if isinstance(self.resize, int):
            short, long = sorted((height, width))
            new_long = int(self.resize * long / short)
            size = (self.resize, new_long) if height <= width else (new_long, self.resize)
        else:
            size = tuple(self.resize)
        if size == (height, width):
            return array
        box = (size[1], size[0])  # Pillow sizes are (width, height)
        if array.dtype == np.uint8 and array.shape[2] in EIGHT_BIT_CHANNELS:
            resized = np.asarray(Image.fromarray(array[..., 0] if array.shape[2] == 1 else np.ascontiguousarray(array)).resize(box, PIL_FILTERS[self.resample]))
            return resized[..., None] if resized.ndim == 2 else resized
        channels = [np.asarray(Image.fromarray(np.ascontiguousarray(array[..., c], dtype=np.float32)).resize(box, PIL_FILTERS[self.resample])) for c in range(array.shape[2])]
        return np.stack(channels, axis=-1)

    def cropped(self, array: np.ndarray, record_id: str) -> np.ndarray:
        """(H, W, C) centre-cropped to `crop`, rounding the offset as torchvision does."""
        if self.crop is None:
            return array
        height, width = array.shape[:2]
        crop_h, crop_w = self.crop
        if crop_h > height or crop_w > width:
            raise BadRecordError(record_id, f"image of {height}x{width} is smaller than the centre crop {crop_h}x{crop_w}")
        top, left = round((height - crop_h) / 2.0), round((width - crop_w) / 2.0)
        return array[top : top + crop_h, left : left + crop_w]


def as_image(image: Any, record_id: str) -> np.ndarray:
    """A record's payload (array (H, W) / (H, W, C) channels last, or a Pillow image) as an (H, W, C) array."""
    if hasattr(image, "mode") and hasattr(image, "getdata"):  # a Pillow image
        from .image_files import image_array

        image = image_array(image)
    if isinstance(image, Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise BadRecordError(record_id, f"an image must be an array (H, W) or (H, W, C), got {type(image).__name__}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise BadRecordError(record_id, f"an image must be an array (H, W) or (H, W, C), got shape {image.shape}")
    if image.dtype.kind not in "uifb":
        raise BadRecordError(record_id, f"image values must be numbers, got dtype {image.dtype}")
    if min(image.shape) == 0:
        raise BadRecordError(record_id, f"empty image of shape {image.shape}")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise BadRecordError(record_id, "image holds NaN or infinite values")
    return image


def _pair(name: str, value: Sequence[int] | int) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise ConfigError(f"domain_options.{name} must be [H, W] of positive integers, got {value!r}")
    return pair
