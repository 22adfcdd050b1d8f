"""Readers of image stacks: HDF5 datasets and .npz archives holding (N, H, W[, C]) or (N, C, H, W) arrays.

Options: `dataset` (the image array; default `images`, or the only 3-D / 4-D array), `layout`
(auto, NHWC, NCHW, NHW), `target_column` (an array of labels; default `labels` when present),
`id_column` (an array of record ids; default the index in the stack); the model's array names are
used where the file has them. An image in a damaged HDF5
chunk, or with an id or label that is not UTF-8, is a bad record; a damaged .npz archive (its arrays
are stored whole) stops the read.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from sciformer.errors import InputFileError
from sciformer.reading import column_option, dataset_rows, not_utf8, readable
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
        if not hasattr(archive, "files"):
            raise InputFileError(f"{path}: holds one .npy array, not a .npz archive of named arrays")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise InputFileError(f"{path}: not a readable .npz archive ({error})") from error
    yield from _stack_records(arrays, options, str(path))


def _stack_records(arrays: Mapping[str, Any], options: Mapping[str, Any], source: str) -> Iterator[Record]:
    images = arrays[_image_name(arrays, options.get("dataset"), source)]
    count = images.shape[0]
    labels = _column(arrays, column_option(options, "target_column", arrays, DEFAULT_LABELS), count, source)
    ids = _column(arrays, column_option(options, "id_column", arrays), count, source)
    layout = detect_layout(tuple(images.shape), source, options.get("layout", "auto"))
    if images.dtype.kind not in "uif" and images.dtype != np.bool_:
        raise InputFileError(f"{source}: images must be numbers, got dtype {images.dtype}")
    for start in range(0, count, CHUNK):
        for offset, stacked in enumerate(dataset_rows(images, start, min(start + CHUNK, count))):
            index = start + offset
            record_id = _text(ids[index]) if ids is not None else str(index)
            target = _label(labels[index]) if labels is not None else None
            image, problem = _image(stacked, layout, index)
            problem = problem or not_utf8(record_id, "the id") or not_utf8(str(target), "the label")
            yield Record(id=readable(record_id), data=None if problem else image, target=target, error=problem)


def _image(stacked: Any, layout: str, index: int) -> tuple[np.ndarray | None, str | None]:
    """One image of the stack as (H, W, C), or None, and why it cannot be used (None when it can)."""
    if isinstance(stacked, OSError):
        return None, f"image {index} cannot be read ({stacked})"
    image = channels_last(np.asarray(stacked), layout)
    return image, image_problem(image)


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


def _column(arrays: Mapping[str, Any], name: str | None, count: int, source: str) -> Sequence[Any] | None:
    """The per-record array `name` (labels or ids) read whole; None when there is none to read."""
    if name is None:
        return None
    if name not in arrays:
        raise InputFileError(f"{source}: no array {name!r} (arrays: {sorted(arrays)})")
    values = np.asarray(arrays[name][()])
    if values.ndim != 1 or values.shape[0] != count:
        raise InputFileError(f"{source}: array {name!r} must hold one value per image ({count}), got shape {values.shape}")
    return values


def _text(value: Any) -> str:
    return str(_label(value))


def _label(value: Any) -> Any:
    """A label as a plain Python value (integer classes stay integers; bytes that are not UTF-8 kept for `not_utf8`)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value.item() if isinstance(value, np.generic) else value
