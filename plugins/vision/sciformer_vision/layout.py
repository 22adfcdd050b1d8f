"""Array layouts of image stacks: which axis holds the channels, and one image as (H, W, C).

Records of the vision domain carry images channels-last, `(H, W, C)`, as Pillow and most HDF5 image
stacks store them; stacks stored channels-first `(N, C, H, W)` are transposed record by record.
"""

from __future__ import annotations

import numpy as np
from sciformer.errors import InputFileError

#: Layout names a reader accepts in its `layout` option.
LAYOUTS = ("auto", "NHWC", "NCHW", "NHW")


def detect_layout(shape: tuple[int, ...], source: str, layout: str = "auto") -> str:
    """The layout of an image stack of `shape`: NHW for 3-D, NHWC or NCHW for 4-D.

    With `layout="auto"` the channel axis of a 4-D stack is the shorter of axes 1 and 3 (images have
    fewer channels than pixels along a side); a tie is ambiguous and needs the `layout` option.
    """
    if layout not in LAYOUTS:
        raise InputFileError(f"{source}: layout must be one of {list(LAYOUTS)}, got {layout!r}")
    expected = {"NHW": 3, "NHWC": 4, "NCHW": 4}
    if layout != "auto":
        if len(shape) != expected[layout]:
            raise InputFileError(f"{source}: layout {layout} needs a {expected[layout]}-D array, got shape {shape}")
        return layout
    if len(shape) == 3:
        return "NHW"
    if len(shape) != 4:
        raise InputFileError(f"{source}: expected images as (N, H, W), (N, H, W, C) or (N, C, H, W), got shape {shape}")
    if shape[3] < shape[1]:
        return "NHWC"
    if shape[1] < shape[3]:
        return "NCHW"
    raise InputFileError(f"{source}: cannot tell channels from pixels in shape {shape}; pass the reader option layout=NHWC or layout=NCHW")


def channels_last(image: np.ndarray, layout: str) -> np.ndarray:
    """One image of a stack in `layout` as (H, W, C)."""
    if layout == "NHW":
        return image[..., None]
    if layout == "NCHW":
        return np.ascontiguousarray(np.moveaxis(image, 0, -1))
    return image


def image_problem(image: np.ndarray) -> str | None:
    """Why an (H, W, C) image cannot be used, or None: empty, or holding NaN / infinite values."""
    if image.size == 0:
        return f"empty image of shape {image.shape}"
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        return f"image holds {int((~np.isfinite(image)).sum())} NaN or infinite value(s)"
    return None
