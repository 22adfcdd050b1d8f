"""Writing embeddings to HDF5: one row per input record, per-residue arrays stored ragged with offsets."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from sciformer.data.results import STATUS_BAD, STATUS_SCORED, STRING

from .inference import Embedding


def write_embeddings(path: Path, embeddings: Iterable[Embedding], dim: int, attributes: Mapping[str, Any], per_residue: bool = False) -> dict[str, int]:
    """Write `record_id`, `status`, `error`, `mean` (N, D), `bos` (N, D) and with `per_residue` also
    `residues` (sum of L, D) and `residue_offsets` (N + 1): record i's residues are rows
    offsets[i]:offsets[i+1] (none for a bad record).
    The file is written under a temporary name and renamed when complete. Returns counts."""
    partial = path.with_name(path.name + ".partial")
    counts = {"scored": 0, "bad": 0}
    try:
        with h5py.File(partial, "w") as out:
            for key, value in attributes.items():
                out.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)
            columns = {
                "record_id": out.create_dataset("record_id", (0,), maxshape=(None,), dtype=STRING, chunks=(1024,)),
                "status": out.create_dataset("status", (0,), maxshape=(None,), dtype=np.int8, chunks=(1024,)),
                "error": out.create_dataset("error", (0,), maxshape=(None,), dtype=STRING, chunks=(1024,)),
                "mean": out.create_dataset("mean", (0, dim), maxshape=(None, dim), dtype=np.float32, chunks=(256, dim)),
                "bos": out.create_dataset("bos", (0, dim), maxshape=(None, dim), dtype=np.float32, chunks=(256, dim)),
            }
            if per_residue:
                residues = out.create_dataset("residues", (0, dim), maxshape=(None, dim), dtype=np.float32, chunks=(1024, dim))
                offsets = out.create_dataset("residue_offsets", (1,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
            stored = 0
            for rows, item in enumerate(embeddings):
                bad = item.error is not None
                empty = np.full(dim, np.nan, dtype=np.float32)
                values = {"record_id": item.record_id, "status": STATUS_BAD if bad else STATUS_SCORED, "error": item.error or "", "mean": empty if bad else item.mean, "bos": empty if bad else item.bos}
                for name, dataset in columns.items():
                    dataset.resize(rows + 1, axis=0)
                    dataset[rows] = values[name]
                if per_residue:
                    block = item.residues if item.residues is not None else np.zeros((0, dim), np.float32)
                    residues.resize(stored + block.shape[0], axis=0)
                    residues[stored:] = block
                    stored += block.shape[0]
                    offsets.resize(rows + 2, axis=0)
                    offsets[rows + 1] = stored
                counts["bad" if bad else "scored"] += 1
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return counts
