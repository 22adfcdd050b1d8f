"""Readers of protein records: FASTA (streamed through Bio.SeqIO), plain text, CSV / TSV and HDF5 string datasets.

Every reader yields records lazily. Options (all optional):
- FASTA: none; the record id is the header's first word. A header seen before keeps the records
  apart by their index in the file: the later one is named `ID#INDEX` (INDEX counts records from 1).
- text: one sequence per non-blank line; the id is the line number.
- CSV / TSV: `data_column` (default `sequence`), `id_column` (default `id` when the table has it,
  else the row number), `target_column`, and for residue-level labels `label_mask_column` (a
  string of 0/1 per residue; residues marked 0 get the `unlabelled` character, default ".").
- HDF5: `dataset` (default `sequences`, or `sequence`), `id_column` and `target_column` naming
  datasets of the same length.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator, Mapping

import h5py
import numpy as np

from sciformer.errors import InputFileError
from sciformer.records import Record

HDF5_CHUNK = 4096  # rows read from an HDF5 dataset at a time


def read_fasta(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """FASTA records, streamed; duplicate headers are kept apart by their index in the file."""
    from Bio import SeqIO

    seen: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        try:
            for index, entry in enumerate(SeqIO.parse(handle, "fasta"), start=1):
                record_id = entry.id or str(index)
                if record_id in seen:
                    record_id = f"{record_id}#{index}"
                seen.add(record_id)
                yield Record(id=record_id, data=str(entry.seq))
        except ValueError as error:
            raise InputFileError(f"{path}: not a readable FASTA file ({error})") from error


def read_lines(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """One sequence per non-blank line; ids are line numbers (from 1)."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield Record(id=str(number), data=line.strip())


def read_table(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Rows of a CSV (or TSV) table with a sequence column and optional id, target and label-mask columns."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter=delimiter)
        columns = rows.fieldnames or []
        data_column = options.get("data_column", "sequence")
        id_column = options.get("id_column", "id" if "id" in columns else None)
        target_column = options.get("target_column")
        mask_column = options.get("label_mask_column")
        unlabelled = str(options.get("unlabelled", "."))
        missing = [c for c in (data_column, id_column, target_column, mask_column) if c and c not in columns]
        if missing:
            raise InputFileError(f"{path}: column(s) {missing} not found (columns: {columns})")
        for number, row in enumerate(rows, start=1):
            record_id = row[id_column] if id_column else str(number)
            target = row[target_column] if target_column else None
            error = None
            if mask_column and target is not None:
                target, error = _mask_labels(target, row[mask_column], unlabelled)
            yield Record(id=record_id, data=row[data_column] or "", target=target, error=error)


def _mask_labels(labels: str, mask: str, unlabelled: str) -> tuple[str, str | None]:
    """Replace labels of residues marked 0 by `unlabelled`; an error when the lengths differ."""
    if len(mask) != len(labels):
        return labels, f"label mask has {len(mask)} entries for {len(labels)} labels"
    return "".join(label if flag == "1" else unlabelled for label, flag in zip(labels, mask)), None


def read_hdf5(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Sequences from a 1-D string dataset, read in chunks; ids and targets from sibling datasets."""
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputFileError(f"{path}: not a readable HDF5 file ({error})") from error
    with handle:
        name = options.get("dataset") or next((n for n in ("sequences", "sequence") if n in handle), None)
        if name is None or name not in handle:
            raise InputFileError(f"{path}: no dataset {name or 'sequences'!r}; give --dataset (datasets: {sorted(handle)})")
        sequences = handle[name]
        if sequences.ndim != 1 or sequences.dtype.kind not in "OSU":
            raise InputFileError(f"{path}: dataset {name!r} must be a 1-D string dataset, got shape {sequences.shape} and type {sequences.dtype}")
        extra = {key: options.get(key) for key in ("id_column", "target_column")}
        for key, dataset in extra.items():
            if dataset and (dataset not in handle or handle[dataset].shape[:1] != sequences.shape):
                raise InputFileError(f"{path}: {key} {dataset!r} is not a dataset of {sequences.shape[0]} rows")
        for start in range(0, sequences.shape[0], HDF5_CHUNK):
            stop = min(start + HDF5_CHUNK, sequences.shape[0])
            chunk = sequences[start:stop]
            ids = handle[extra["id_column"]][start:stop] if extra["id_column"] else np.arange(start + 1, stop + 1)
            targets = handle[extra["target_column"]][start:stop] if extra["target_column"] else [None] * (stop - start)
            for value, record_id, target in zip(chunk, ids, targets):
                yield Record(id=_text(record_id), data=_text(value), target=_plain(target))


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _plain(value: Any) -> Any:
    """HDF5 scalars -> Python values (bytes decoded)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value.item() if isinstance(value, np.generic) else value
