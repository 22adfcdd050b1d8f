"""Paired records of two domains, row-aligned, from one of three layouts:

- an HDF5 file with two row-aligned datasets (`file: pairs.h5`, `datasets: [left, right]`, optional
  `ids: dataset`): string rows become strings, numeric rows arrays;
- one file both sides read with their own domain reader and options, row by row (`file: table.csv`,
  each side's `options` naming its column);
- two files plus a pairs table (`left: a.fasta`, `right: b.csv`, `pairs: pairs.csv`,
  `columns: [left_id, right_id]`): each row of the table pairs a left record with a right one by id.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciformer.errors import ConfigError, InputFileError
from sciformer.known_keys import refuse_unknown
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record

log = logging.getLogger(__name__)

HDF5_SUFFIXES = (".h5", ".hdf5")
DATA_KEYS = ("file", "datasets", "ids", "left", "right", "pairs", "columns", "split")


@dataclass(frozen=True)
class Pairs:
    """Row i pairs `left[i]` with `right[i]`; a record may appear in several rows."""

    left: list[Record]
    right: list[Record]

    def __post_init__(self) -> None:
        if len(self.left) != len(self.right):
            raise ConfigError(f"paired records must be row-aligned: {len(self.left)} left, {len(self.right)} right")

    def __len__(self) -> int:
        return len(self.left)

    def keys(self, side: str) -> list[str]:
        """What identifies an item of one side: its text when records are strings (so equal captions
        are one item), else its id."""
        records = self.left if side == "left" else self.right
        return [r.data if isinstance(r.data, str) else f"id:{r.id}" for r in records]

    def subset(self, rows: Sequence[int]) -> Pairs:
        """The pairs at the given rows."""
        return Pairs([self.left[i] for i in rows], [self.right[i] for i in rows])


@dataclass(frozen=True)
class Side:
    """How one side is read: its domain and its reader options."""

    domain: str
    options: Mapping[str, Any]


def read_pairs(data: Mapping[str, Any], left: Side, right: Side, host: PluginHost) -> Pairs:
    """Paired records from a recipe's `data` section (paths already absolute)."""
    refuse_unknown("contrastive data setting(s)", data, DATA_KEYS)
    if data.get("file"):
        path = Path(data["file"])
        if path.suffix.lower() in HDF5_SUFFIXES and data.get("datasets"):
            return read_hdf5_pairs(path, data["datasets"], data.get("ids"))
        return _read_aligned(path, left, right, host)
    if data.get("pairs") and data.get("left") and data.get("right"):
        return _read_table_pairs(Path(data["left"]), Path(data["right"]), Path(data["pairs"]), data.get("columns"), left, right, host)
    raise ConfigError("contrastive data needs `file` (HDF5 with `datasets: [left, right]`, or a file both sides read) or `left`, `right` and `pairs`")


def read_hdf5_pairs(path: Path, datasets: Sequence[str], ids: str | None = None) -> Pairs:
    """Two row-aligned datasets of an HDF5 file; record ids from the `ids` dataset or row numbers (from 1)."""
    if len(datasets) != 2:
        raise ConfigError(f"data.datasets must name two datasets (left, right), got {list(datasets)}")
    if not path.is_file():
        raise InputFileError(f"paired input not found: {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputFileError(f"{path}: not a readable HDF5 file ({error})") from error
    with handle:
        missing = [name for name in (*datasets, ids) if name and name not in handle]
        if missing:
            raise InputFileError(f"{path}: dataset(s) {missing} not found (datasets: {sorted(handle)})")
        columns = [handle[name][()] for name in datasets]
        names = [_plain(v) for v in handle[ids][()]] if ids else None
    if len(columns[0]) != len(columns[1]) or (names is not None and len(names) != len(columns[0])):
        raise InputFileError(f"{path}: datasets {list(datasets)} are not row-aligned ({len(columns[0])} and {len(columns[1])} rows)")
    record_ids = [str(n) for n in names] if names is not None else [str(i + 1) for i in range(len(columns[0]))]
    left = [Record(record_ids[i], _plain(v)) for i, v in enumerate(columns[0])]
    right = [Record(record_ids[i], _plain(v)) for i, v in enumerate(columns[1])]
    return Pairs(left, right)


def _read_aligned(path: Path, left: Side, right: Side, host: PluginHost) -> Pairs:
    """One file read by each side's reader; rows must come out aligned (same count, same ids)."""
    left_records = list(read_records(host, left.domain, path, left.options))
    right_records = list(read_records(host, right.domain, path, right.options))
    if len(left_records) != len(right_records):
        raise InputFileError(f"{path}: the two sides read {len(left_records)} and {len(right_records)} records; they must be row-aligned")
    for a, b in zip(left_records, right_records):
        if a.id != b.id:
            raise InputFileError(f"{path}: row ids differ between the sides ({a.id!r} and {b.id!r}); give both sides the same id_column")
    return Pairs(left_records, right_records)


def _read_table_pairs(left_path: Path, right_path: Path, table: Path, columns: Sequence[str] | None, left: Side, right: Side, host: PluginHost) -> Pairs:
    """Records of two files joined through a CSV / TSV table of (left id, right id) rows."""
    by_id = [{r.id: r for r in read_records(host, side.domain, path, side.options)} for side, path in ((left, left_path), (right, right_path))]
    if not table.is_file():
        raise InputFileError(f"pairs table not found: {table}")
    delimiter = "\t" if table.suffix.lower() == ".tsv" else ","
    with open(table, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter=delimiter)
        header = rows.fieldnames or []
        names = list(columns) if columns else header[:2]
        if len(names) != 2 or any(name not in header for name in names):
            raise InputFileError(f"{table}: needs two id columns (data.columns), got {names}; columns there: {header}")
        pairs: tuple[list[Record], list[Record]] = ([], [])
        unknown = []
        for number, row in enumerate(rows, start=2):
            found = [lookup.get(row[name]) for lookup, name in zip(by_id, names)]
            if None in found:
                unknown.append(f"line {number}: {row[names[0]]!r} / {row[names[1]]!r}")
                continue
            pairs[0].append(found[0])
            pairs[1].append(found[1])
    if unknown:
        log.warning("%s: %d pair(s) name records that are not in the inputs, e.g. %s", table, len(unknown), "; ".join(unknown[:3]))
    if not pairs[0]:
        raise InputFileError(f"{table}: no pair names records of both {left_path} and {right_path}")
    return Pairs(*pairs)


def _plain(value: Any) -> Any:
    """HDF5 row values -> Python strings and numbers, or numpy arrays."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value
