"""Data splits for molecule benchmarks: Bemis-Murcko scaffold splits and seeded random splits.

The scaffold split groups molecules by their Murcko scaffold, so no scaffold is shared across parts.
It is the "balanced" variant: groups too big for half of the valid or test part go to train first,
the remaining groups are shuffled with the seed, then train, valid and test are filled with whole
groups in that order. (Filling strictly largest-first makes the parts depend on the file's row
order; in BBBP, whose last 700 rows are all penetrating, that leaves one class in valid and test.)
Acyclic molecules share the empty scaffold. Rows whose SMILES do not parse go to train (the trainer
reports them as bad records).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold
from sciformer.errors import ConfigError, InputFileError

PARTS = ("train", "valid", "test")


def murcko_scaffold(smiles: str) -> str | None:
    """The canonical Bemis-Murcko scaffold SMILES (no stereo), "" for acyclic, None if unparsable."""
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(smiles: Sequence[str], valid: float, test: float, seed: int) -> dict[str, list[int]]:
    """Row indices per part, whole scaffold groups at a time (big groups to train, the rest seeded)."""
    groups: dict[str, list[int]] = {}
    bad: list[int] = []
    for index, text in enumerate(smiles):
        scaffold = murcko_scaffold(text)
        if scaffold is None:
            bad.append(index)
        else:
            groups.setdefault(scaffold, []).append(index)
    train_size = (1.0 - valid - test) * len(smiles)
    valid_size = valid * len(smiles)
    limit = min(valid, test) * len(smiles) / 2
    big = sorted((rows for rows in groups.values() if len(rows) > limit), key=lambda rows: (-len(rows), rows[0]))
    small = sorted((rows for rows in groups.values() if len(rows) <= limit), key=lambda rows: rows[0])
    order = np.random.default_rng(seed).permutation(len(small))
    ordered = big + [small[i] for i in order]
    parts: dict[str, list[int]] = {part: [] for part in PARTS}
    for rows in ordered:
        if len(parts["train"]) + len(rows) <= train_size:
            parts["train"].extend(rows)
        elif len(parts["valid"]) + len(rows) <= valid_size:
            parts["valid"].extend(rows)
        else:
            parts["test"].extend(rows)
    parts["train"].extend(bad)
    return {part: sorted(rows) for part, rows in parts.items()}


def random_split(count: int, valid: float, test: float, seed: int) -> dict[str, list[int]]:
    """Row indices per part from a seeded permutation."""
    order = np.random.default_rng(seed).permutation(count).tolist()
    n_valid, n_test = round(valid * count), round(test * count)
    return {"valid": sorted(order[:n_valid]), "test": sorted(order[n_valid : n_valid + n_test]), "train": sorted(order[n_valid + n_test :])}


def split_file(path: Path, out: Path, method: str, valid: float, test: float, seed: int, smiles_column: str = "smiles") -> dict[str, Path]:
    """Write `out/train.csv`, `valid.csv`, `test.csv` (all columns kept) and return their paths."""
    if not 0 <= valid < 1 or not 0 <= test < 1 or valid + test >= 1:
        raise ConfigError(f"valid ({valid}) and test ({test}) fractions must be in [0, 1) and sum below 1")
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = reader.fieldnames or []
    except OSError as error:
        raise InputFileError(f"cannot read {path}: {error}") from error
    if smiles_column not in columns:
        raise InputFileError(f"{path}: column {smiles_column!r} not found (columns: {columns})")
    if method == "scaffold":
        parts = scaffold_split([row[smiles_column] for row in rows], valid, test, seed)
    elif method == "random":
        parts = random_split(len(rows), valid, test, seed)
    else:
        raise ConfigError(f"split method must be 'scaffold' or 'random', got {method!r}")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for part in PARTS:
        target = out / f"{part}.csv"
        with open(target, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows[i] for i in parts[part])
        written[part] = target
    return written
