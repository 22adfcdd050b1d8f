"""What a vision model's pixel values mean, so that an image gives the same pixels whatever its dtype.

A model trained here records, in `domain_options`, its training images' `pixel_dtype` and
`pixel_range`: the full range of an integer dtype (uint8 -> [0, 255]), or the values float images
held. Its `scale` is `rescale` when set, else 1/255 for uint8 and 1/65535 for uint16 training images,
else 1. An image's values are then read by what they mean, not by their dtype:

- integers of any width: values in the training images' units, multiplied by `scale`; a value outside
  `pixel_range` makes the record bad. MNIST as uint8, int32 or int64 gives the same pixels.
- floats, for a model trained on integers without `rescale`: values already scaled (uint8 / 255), so
  they must lie within `pixel_range` x `scale` (0..1 for uint8), else the record is bad (0..255 sent
  as floats). For any other model, floats are in the training images' units, like integers, and are
  not range-checked (measured values may go beyond what the training images held).
- booleans: the floats 0 and 1.

A model with no recorded range (imported weights, or trained on images of mixed dtypes) scales as
before: everything by `rescale`, else uint8 / 255, uint16 / 65535 and floats unchanged; other integer
dtypes are bad records, since their scale would be a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sciformer.errors import BadRecordError, ConfigError

log = logging.getLogger(__name__)

DTYPE_SCALE = {np.dtype(np.uint8): 1.0 / 255.0, np.dtype(np.uint16): 1.0 / 65535.0}
FLOAT_SLACK = 1e-6  # share of the range an already-scaled float may overshoot by float rounding


@dataclass(frozen=True)
class PixelValues:
    """The scale of a model's pixel values: `rescale`, and the training images' `dtype` and `range`."""

    rescale: float | None = None
    dtype: str | None = None
    range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if (self.dtype is None) != (self.range is None):
            raise ConfigError("domain_options.pixel_dtype and pixel_range go together: give both or neither")
        if self.dtype is None or self.range is None:
            return
        try:
            trained = np.dtype(self.dtype)
        except TypeError:
            raise ConfigError(f"domain_options.pixel_dtype must name a numpy dtype, got {self.dtype!r}") from None
        low, high = self.range
        if trained.kind not in "uif" or not low <= high:
            raise ConfigError(f"domain_options.pixel_dtype / pixel_range must be a numeric dtype and [low, high], got {self.dtype!r} {list(self.range)}")
        if trained.kind in "ui" and (low < np.iinfo(trained).min or high > np.iinfo(trained).max):
            raise ConfigError(f"domain_options.pixel_range {list(self.range)} does not fit pixel_dtype {self.dtype}")

    @property
    def scale(self) -> float:
        """The factor from the training images' units to the model's pixel values."""
        if self.rescale is not None:
            return self.rescale
        return DTYPE_SCALE.get(np.dtype(self.dtype), 1.0) if self.dtype else 1.0

    def __call__(self, image: np.ndarray, record_id: str) -> tuple[np.ndarray, float]:
        """(H, W, C) `image` ready for resizing, and the factor to multiply its values by after it."""
        if image.dtype == np.bool_:
            image = image.astype(np.float32)
        if self.dtype is None or self.range is None:
            return image, self._by_dtype(image, record_id)
        trained = np.dtype(self.dtype)
        low, high = self.range
        if image.dtype.kind in "ui":
            _check(image, low, high, record_id, f"the range of the {trained} images this model was trained on")
            return image.astype(trained, copy=False), self.scale  # lossless: the values fit `trained`
        if trained.kind in "ui" and self.rescale is None:
            meaning = f"the range of floats this model takes (already scaled, as its {trained} training images {low:g}..{high:g} are)"
            _check(image, low * self.scale, high * self.scale, record_id, meaning, slack=FLOAT_SLACK * (high - low) * self.scale)
            return image, 1.0
        return image, self.scale

    def _by_dtype(self, image: np.ndarray, record_id: str) -> float:
        """The scale of a model without a recorded range."""
        if self.rescale is not None:
            return self.rescale
        if image.dtype.kind in "ui" and image.dtype not in DTYPE_SCALE:
            raise BadRecordError(record_id, f"{image.dtype} pixels have no known scale for this model (it records no pixel_range): "
                                 "give uint8 (0..255) or uint16 (0..65535) images, or floats already scaled")
        return DTYPE_SCALE.get(image.dtype, 1.0)


def _check(image: np.ndarray, low: float, high: float, record_id: str, meaning: str, slack: float = 0.0) -> None:
    """BadRecordError when a value of `image` lies outside [low, high] by more than `slack`."""
    smallest, largest = image.min(), image.max()
    if smallest < low - slack or largest > high + slack:
        raise BadRecordError(record_id, f"pixel values {smallest:g}..{largest:g} lie outside {low:g}..{high:g}, {meaning}")


def training_pixel_values(images: Iterable[np.ndarray]) -> dict[str, Any]:
    """`pixel_dtype` and `pixel_range` of training images (see the module docstring); none for images of
    mixed dtypes or booleans, which keep the scale by dtype."""
    images = list(images)
    dtypes = {image.dtype for image in images}
    if len(dtypes) != 1:
        log.warning("training images mix dtypes %s: no pixel_range recorded, each image is scaled by its dtype", sorted(map(str, dtypes)))
        return {}
    dtype = dtypes.pop()
    if dtype.kind in "ui":
        return {"pixel_dtype": dtype.name, "pixel_range": [int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)]}
    if dtype.kind == "f":
        return {"pixel_dtype": dtype.name, "pixel_range": [float(min(i.min() for i in images)), float(max(i.max() for i in images))]}
    return {}
