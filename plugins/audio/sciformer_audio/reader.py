"""Readers of the audio domain: sound files, folders of them, CSV manifests and HDF5 waveform datasets.

Every reader yields `Record(id, Waveform(samples, sample_rate), target)` lazily; a file that cannot
be decoded, a manifest row that cannot be read or an HDF5 row with an id that is not UTF-8 becomes a
record with `error` set, so one corrupt record never stops the others. A WAV file holding fewer samples
than its header declares (cut short while copying) is decoded as far as it goes and scored, with a
`warning` naming the samples present.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import soundfile
from sciformer.errors import InputFileError
from sciformer.reader_options import DEFAULT_ID_COLUMN
from sciformer.reading import column_option, csv_table, not_utf8, readable
from sciformer.records import Record

from sciformer_audio.suffixes import AUDIO_SUFFIXES
from sciformer_audio.waveform import Waveform, as_float

log = logging.getLogger(__name__)

DEFAULT_FILE_COLUMN = "file"
DEFAULT_DATASET = "waveforms"
DEFAULT_IDS = "ids"
UNKNOWN_WAV_SIZE = 0xFFFFFFFF  # a data size streaming writers leave when the length is not known


def load_audio(path: Path) -> Waveform:
    """Decode one sound file (anything libsndfile reads) into float32 samples in [-1, 1)."""
    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    return Waveform(samples, int(rate))


def wav_frames(path: Path) -> int | None:
    """Frames a RIFF WAVE file's header declares (data chunk bytes / block align); None for other files,
    and for a size left unknown (0 or 0xFFFFFFFF, as streaming writers leave it)."""
    with open(path, "rb") as handle:
        riff = handle.read(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return None
        block_align = 0
        while len(chunk := handle.read(8)) == 8:
            kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if kind == b"data":
                return size // block_align if block_align and size not in (0, UNKNOWN_WAV_SIZE) else None
            body = handle.read(size + size % 2)  # chunks are padded to an even size
            if kind == b"fmt ":
                block_align = int.from_bytes(body[12:14], "little")
    return None


def truncation(path: Path, waveform: Waveform) -> str | None:
    """A warning when a WAV file holds fewer samples than its header declares, else None."""
    declared = wav_frames(path) if path.suffix.lower() == ".wav" else None
    present = waveform.samples.shape[0]
    return f"truncated WAV: {present:,} of {declared:,} samples" if declared and present < declared else None


def audio_record(record_id: str, path: Path, target: Any = None) -> Record:
    """A record for one sound file; a missing or undecodable file gives a record with `error` set,
    a truncated WAV one with `warning` set."""
    if path.is_dir():
        return Record(record_id, None, target, error=f"{path} is a folder, not an audio file")
    if not path.is_file():
        return Record(record_id, None, target, error=f"audio file not found: {path}")
    try:
        waveform = load_audio(path)
        return Record(record_id, waveform, target, warning=truncation(path, waveform))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as error:
        return Record(record_id, None, target, error=f"cannot decode {path.name}: {error}")


def read_audio_file(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """One sound file is one record, named by the file's stem."""
    yield audio_record(path.stem, path)


def read_audio_folder(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Every sound file under a folder (recursively, sorted); ids are paths relative to the folder
    (a byte of a file name that is not UTF-8 shown as U+FFFD).

    With `folder_labels: true` a file's target is its first sub-folder's name (class-per-folder layout).
    """
    folder_labels = bool(options.get("folder_labels", False))
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise InputFileError(f"{path}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
    for file in files:
        relative = file.relative_to(path)
        target = relative.parts[0] if folder_labels and len(relative.parts) > 1 else None
        yield audio_record(readable(relative.as_posix()), file, target)


def read_manifest(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """A CSV table naming sound files: `data_column` (default `file`), optional `target_column`, `id_column`
    (default `id` when present, else the file path); the model's column names are used where the table has them.

    File paths are taken relative to `root` (itself relative to the CSV's folder; default that folder).
    A blank cell of the model's target column means no target.
    """
    root = Path(os.path.expandvars(str(options.get("root") or ".")))
    root = root if root.is_absolute() else path.parent / root
    with csv_table(path, delimiter=",") as table:
        data_column = column_option(options, "data_column", table.columns) or DEFAULT_FILE_COLUMN
        target_column = column_option(options, "target_column", table.columns)
        id_column = column_option(options, "id_column", table.columns, DEFAULT_ID_COLUMN)
        table.require(data_column, target_column, id_column, hint="; set data_column / target_column / id_column")
        for number, row, problem in table:
            file = row[data_column]
            record_id = readable(row[id_column] if id_column else file) or str(number)
            target = row[target_column] if target_column else None
            if target is not None and not target.strip() and "target_column" not in options:
                target = None  # a blank cell of the model's target column: no label
            if not problem and not file.strip():
                problem = f"row {number:,} names no audio file (column {data_column!r} is empty)"
            yield Record(record_id, None, target, error=problem) if problem else audio_record(record_id, root / file, target)


def read_hdf5(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Rows of an HDF5 waveform dataset: variable-length (or fixed-width 2-D) float or int16 rows.

    `dataset` (default `waveforms`) holds the rows and a `sample_rate` attribute (or the file has one,
    or the `sample_rate` option gives it); `id_column` names a dataset of ids (default `ids` when
    present, else row numbers); `target_column` a dataset of targets. int16 rows are divided by 32768.
    """
    name = options.get("dataset", DEFAULT_DATASET)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputFileError(f"{path}: not a readable HDF5 file ({error})") from error
    with handle:
        if name not in handle or not isinstance(handle[name], h5py.Dataset):
            found = sorted(k for k in handle if isinstance(handle[k], h5py.Dataset))
            raise InputFileError(f"{path}: no waveform dataset {name!r} (datasets: {found}); set the dataset option")
        rows = handle[name]
        rate = options.get("sample_rate", rows.attrs.get("sample_rate", handle.attrs.get("sample_rate")))
        if rate is None:
            raise InputFileError(f"{path}: dataset {name!r} has no sample_rate attribute; set the sample_rate option")
        rate = whole_hertz(rate, path, name)
        ids = _column(handle, path, column_option(options, "id_column", handle, DEFAULT_IDS), rows.shape[0])
        targets = _column(handle, path, column_option(options, "target_column", handle), rows.shape[0])
        for index in range(rows.shape[0]):
            record_id = _text(ids[index]) if ids is not None else str(index)
            target = _text(targets[index]) if targets is not None else None
            problem = not_utf8(record_id, "the id") or not_utf8(target or "", "the target")
            if problem:
                yield Record(readable(record_id), None, target, error=problem)
                continue
            try:
                samples = as_float(np.asarray(rows[index]))
            except (TypeError, OSError) as error:
                yield Record(record_id, None, target, error=f"row {index} of {name!r} is not audio: {error}")
                continue
            yield Record(record_id, Waveform(samples, rate), target)


def whole_hertz(value: Any, path: Path, name: str) -> int:
    """The sample rate of dataset `name` as a positive whole number of Hz, or InputFileError saying what it is."""
    try:
        number = float(np.asarray(value).item()) if not isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (number >= 1 and number.is_integer()):
        raise InputFileError(f"{path}: the sample rate of dataset {name!r} must be a positive whole number of Hz, got {value!r}")
    return int(number)


def _column(handle: h5py.File, path: Path, name: str | None, length: int) -> np.ndarray | None:
    """The per-row dataset `name` (ids or targets) read whole; None when there is none to read."""
    if name is None:
        return None
    if name not in handle:
        raise InputFileError(f"{path}: dataset {name!r} not found")
    values = handle[name][()]
    if len(values) != length:
        raise InputFileError(f"{path}: dataset {name!r} has {len(values)} rows, the waveforms {length}")
    return values


def _text(value: Any) -> str:
    """HDF5 strings arrive as bytes (bytes that are not UTF-8 kept for `not_utf8`); numbers become their text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)
