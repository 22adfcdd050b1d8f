"""RDKit's 2D descriptors of a molecule: the random forest's features, and the molecule-level features a
model can take beside its atoms (`domain_options.molecule_features: rdkit2d`, as Chemprop's `rdkit_2d`
features generator).

A model standardises each descriptor by the training molecules' mean and std (set by `prepare_config`);
a value RDKit cannot compute (a few descriptors overflow on odd molecules) becomes the training mean, and
standardised values are clipped to +-`CLIP`, so one extreme molecule cannot swamp the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import Descriptors

#: The descriptor names, in RDKit's order (`Descriptors.descList`; 210 in RDKit 2025).
DESCRIPTOR_NAMES = tuple(name for name, _ in Descriptors.descList)
OVERFLOW = 1e30  # larger magnitudes are overflows, treated as missing
CLIP = 5.0  # standardised descriptors are clipped to +-CLIP


def descriptor_values(mol: Chem.Mol) -> np.ndarray:
    """(D,) float64 descriptors of `mol`, NaN where RDKit's value is not finite or overflows."""
    with rdBase.BlockLogs():
        values = np.array([function(mol) for _, function in Descriptors.descList], dtype=np.float64)
    return np.where(np.isfinite(values) & (np.abs(values) < OVERFLOW), values, np.nan)


def descriptors(smiles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) descriptors of SMILES strings (missing values 0) and a (N,) mask of those that parsed."""
    rows, ok = [], []
    for text in smiles:
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(text)
        ok.append(mol is not None)
        rows.append(descriptor_values(mol) if mol is not None else np.zeros(len(DESCRIPTOR_NAMES)))
    return np.nan_to_num(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(DESCRIPTOR_NAMES)), nan=0.0), np.asarray(ok)


def descriptor_statistics(rows: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-descriptor mean and std of (N, D) values over the finite ones (std 1 where constant or missing)."""
    finite = np.isfinite(rows)
    counts = finite.sum(axis=0)
    filled = np.where(finite, rows, 0.0)
    mean = np.divide(filled.sum(axis=0), counts, out=np.zeros(rows.shape[1]), where=counts > 0)
    spread = np.where(finite, rows - mean, 0.0)
    std = np.sqrt(np.divide((spread**2).sum(axis=0), counts - 1, out=np.zeros(rows.shape[1]), where=counts > 1))
    return mean.tolist(), np.where(std > 0, std, 1.0).tolist()


def standardised(values: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(..., D) descriptors as float32 z-scores: missing values 0 (the training mean), clipped to +-CLIP."""
    scores = (values - np.asarray(mean)) / np.asarray(std)
    return np.clip(np.nan_to_num(scores, nan=0.0), -CLIP, CLIP).astype(np.float32)
