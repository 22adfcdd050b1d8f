"""Reader of image files (PNG, JPEG, TIFF, BMP, GIF, WebP) through Pillow: one file or a folder of them.

In a folder, files are read in sorted order, subfolders included; a file inside a subfolder takes the
subfolder's name as its class (the common one-folder-per-class layout). Record ids are paths relative
to the folder (a byte of a file name that is not UTF-8 shown as U+FFFD). Option `frames`: `first` (default) reads the first frame of a multi-frame file;
`channels` stacks every frame as one channel (multi-page microscopy TIFFs).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError
from PIL.Image import DecompressionBombError
from sciformer.errors import InputFileError
from sciformer.reading import readable
from sciformer.records import Record

from .layout import image_problem
from .suffixes import SUFFIXES

FRAMES = ("first", "channels")
#: Pillow modes converted before reading pixels (palette, 1-bit and colour-space modes).
CONVERT = {"1": "L", "P": "RGB", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}


def read_images(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Records of one image file, or of every image file under a folder."""
    frames = options.get("frames", "first")
    if frames not in FRAMES:
        raise InputFileError(f"{path}: option frames must be one of {list(FRAMES)}, got {frames!r}")
    if not path.is_dir():
        yield _record(path, path.name, None, frames)
        return
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise InputFileError(f"{path}: no image files ({', '.join(SUFFIXES)}) in this folder")
    for file in files:
        relative = file.relative_to(path)
        label = relative.parts[0] if len(relative.parts) > 1 else None
        yield _record(file, readable(relative.as_posix()), label, frames)


def _record(file: Path, record_id: str, label: str | None, frames: str) -> Record:
    try:
        with Image.open(file) as image:
            array = stacked_frames(image) if frames == "channels" else image_array(image)
    except (UnidentifiedImageError, DecompressionBombError, OSError, ValueError) as error:
        return Record(id=record_id, data=None, target=label, error=f"unreadable image file ({error})")
    problem = image_problem(array)
    return Record(id=record_id, data=None if problem else array, target=label, error=problem)


def image_array(image: Image.Image) -> np.ndarray:
    """A Pillow image as (H, W, C): grey 1 channel, RGB 3, RGBA 4, 16-bit and float images kept as numbers."""
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode in CONVERT:
        image = image.convert(CONVERT[mode])
    array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


def stacked_frames(image: Image.Image) -> np.ndarray:
    """Every frame of a multi-frame image as one channel each: (H, W, frames)."""
    layers = []
    for frame in ImageSequence.Iterator(image):
        array = image_array(frame)
        if array.shape[-1] != 1:
            raise ValueError(f"frames=channels needs single-channel frames, got {array.shape[-1]} channels")
        layers.append(array[..., 0])
    if len({layer.shape for layer in layers}) != 1:
        raise ValueError("frames differ in size")
    return np.stack(layers, axis=-1)
