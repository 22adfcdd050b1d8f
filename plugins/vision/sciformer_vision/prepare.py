"""Completing a new model's configuration from its training images.

Learns what the recipe left out (an option given explicitly, even as null, is kept):
`channels` and `image_size` (the most common ones among the training images, or the crop / exact
resize when one is set), `resize` (to `image_size`, so any input size can be scored), the
`pixel_dtype` and `pixel_range` of the training images (what their values mean, see pixel_values.py),
the per-channel `mean` and `std` of the rescaled pixels, and the class names for classification.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record

from .pixel_values import training_pixel_values
from .preprocess import Preprocessing, as_image

log = logging.getLogger(__name__)

SAMPLE = 2000  # training images the statistics are computed from (the first ones, in file order)
MIN_STD = 1e-6  # below this a channel is constant and is left unscaled


def prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """`config` with the vision options learned from `records` (class names are the core's)."""
    sample = _sample(records)
    options: dict[str, Any] = dict(config.domain_options)
    if "channels" not in options:
        options["channels"] = _most_common(image.shape[2] for _, image in sample)
    if "image_size" not in options:
        options["image_size"] = _training_size(options, sample)
    if "resize" not in options:
        options["resize"] = list(options["image_size"])
    if "pixel_dtype" not in options and "pixel_range" not in options:
        options.update(training_pixel_values(image for _, image in sample))
    if "mean" not in options and "std" not in options:
        options["mean"], options["std"] = channel_statistics(config.replace(domain_options=options), sample)
    return config.replace(domain_options=options)


def channel_statistics(config: ModelConfig, sample: Sequence[tuple[str, np.ndarray]]) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of the sample after resizing, cropping and rescaling."""
    preprocess = Preprocessing.from_config(config, normalise=False)
    total = squares = None
    count = 0
    for record_id, image in sample:
        try:
            pixels = preprocess(image, record_id).double().flatten(1)  # (C, H * W)
        except BadRecordError:
            continue
        total = pixels.sum(dim=1) if total is None else total + pixels.sum(dim=1)
        squares = (pixels**2).sum(dim=1) if squares is None else squares + (pixels**2).sum(dim=1)
        count += pixels.shape[1]
    if not count:
        raise ConfigError("no training image survives the preprocessing; cannot compute mean and std")
    mean = total / count
    std = torch.sqrt((squares / count - mean**2).clamp(min=0.0))
    std = torch.where(std < MIN_STD, torch.ones_like(std), std)
    log.info("pixel mean %s, std %s over %d image(s)", mean.tolist(), std.tolist(), len(sample))
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]


def _sample(records: Sequence[Record]) -> list[tuple[str, np.ndarray]]:
    sample = []
    for record in records:
        if record.error:
            continue
        try:
            sample.append((record.id, as_image(record.data, record.id)))
        except BadRecordError:
            continue
        if len(sample) >= SAMPLE:
            break
    if not sample:
        raise ConfigError("no readable training image to learn the image size, channels and pixel statistics from")
    return sample


def _training_size(options: dict[str, Any], sample: Sequence[tuple[str, np.ndarray]]) -> list[int]:
    """The crop, else an exact resize, else the most common image size."""
    for name in ("crop", "resize"):
        value = options.get(name)
        if isinstance(value, int) and name == "crop":
            return [value, value]
        if isinstance(value, (list, tuple)):
            return [int(v) for v in value]
    if isinstance(options.get("resize"), int):
        raise ConfigError("a shorter-side resize without a crop gives images of several sizes; set domain_options.image_size")
    return list(_most_common(tuple(image.shape[:2]) for _, image in sample))


def _most_common(values: Any) -> Any:
    return Counter(values).most_common(1)[0][0]
