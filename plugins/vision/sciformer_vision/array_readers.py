"""Readers of image stacks: HDF5 datasets and .npz archives holding (N, H, W[, C]) or (N, C, H, W) arrays.

Options: `dataset` (the image array; default `images`, or the only 3-D / 4-D array), `layout`
(auto, NHWC, NCHW, NHW), `target_column` (an array of labels; default `labels` when present),
`id_column` (an array of record ids; default the index in the stack).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import h5py
import numpy as np

from sciformer.errors import InputFileError
from sciformer.records import Record

from .layout import channels_last, detect_layout, image_problem

DEFAULT_IMAGES = "images"
DEFAULT_LABELS = "labels"
CHUNK = 256  # images read from disk at a time


def read_hdf5(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Records of an image stack in an HDF5 file, read lazily in chunks."""
    with h5py.File(path, "r") as handle:
        arrays: dict[str, Any] = {}
        handle.visititems(lambda name, item: arrays.__setitem__(name, item) if isinstance(item, h5py.Dataset) else None)
        yield from _stack_records(arrays, options, str(path))


def read_npz(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Records of an image stack in a NumPy .npz archive (pickled objects are refused)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise InputFileError(f"{path}: not a readable .npz archive ({error})") from error
    with archive:
        yield from _stack_records({name: archive[name] for name in archive.files}, options, str(path))


def _stack_records(arrays: Mapping[str, Any], options: Mapping[str, Any], source: str) -> Iterator[Record]:
    images = arrays[_image_name(arrays, options.get("dataset"), source)]
    count = images.shape[0]
    labels = _column(arrays, options.get("target_column"), DEFAULT_LABELS, count, source)
    ids = _column(arrays, options.get("id_column"), None, count, source)
    layout = detect_layout(tuple(images.shape), source, options.get("layout", "auto"))
    if images.dtype.kind not in "uif" and images.dtype != np.bool_:
        raise InputFileError(f"{source}: images must be numbers, got dtype {images.dtype}")
    for start in range(0, count, CHUNK):
        chunk = np.asarray(images[start : start + CHUNK])
        for offset, stacked in enumerate(chunk):
            index = start + offset
            image = channels_last(stacked, layout)
            record_id = _text(ids[index]) if ids is not None else str(index)
            target = _label(labels[index]) if labels is not None else None
            problem = image_problem(image)
            yield Record(id=record_id, data=None if problem else image, target=target, error=problem)


def _image_name(arrays: Mapping[str, Any], wanted: str | None, source: str) -> str:
    if wanted:
        if wanted not in arrays:
            raise InputFileError(f"{source}: no array {wanted!r} (arrays: {sorted(arrays)})")
        return wanted
    if DEFAULT_IMAGES in arrays:
        return DEFAULT_IMAGES
    stacks = [name for name, array in arrays.items() if len(array.shape) in (3, 4)]
    if len(stacks) != 1:
        raise InputFileError(f"{source}: pass the option dataset=NAME to choose the image array (arrays: {sorted(arrays)})")
    return stacks[0]


def _column(arrays: Mapping[str, Any], wanted: str | None, default: str | None, count: int, source: str) -> Sequence[Any] | None:
    """A per-record array (labels or ids) read whole; None when not asked for and not present."""
    name = wanted or default
    if name is None or name not in arrays:
        if wanted:
            raise InputFileError(f"{source}: no array {wanted!r} (arrays: {sorted(arrays)})")
        return None
    values = np.asarray(arrays[name][()])
    if values.ndim != 1 or values.shape[0] != count:
        raise InputFileError(f"{source}: array {name!r} must hold one value per image ({count}), got shape {values.shape}")
    return values


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _label(value: Any) -> Any:
    """A label as a plain Python value (integer classes stay integers)."""
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value
