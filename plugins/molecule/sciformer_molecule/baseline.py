"""The classical baseline: ridge regression on Morgan fingerprints (closed form, numpy only).

Fingerprints are 2048-bit Morgan / ECFP4 (radius 2). Ridge is solved in its dual form
`w = X^T (X X^T + alpha I)^-1 (y - mean)`, cheap when there are fewer molecules than bits. Alpha is
picked on the validation part from a fixed grid. For classification the same ridge on 0 / 1 labels
gives scores whose ROC-AUC is reported (a ridge classifier).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdFingerprintGenerator

from sciformer_molecule.metrics import regression_metrics, roc_auc

ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
RADIUS = 2
BITS = 2048


def morgan_fingerprints(smiles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(N, BITS) float fingerprints and a (N,) mask of the SMILES that parsed."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=BITS)
    rows, ok = [], []
    for text in smiles:
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(text)
        ok.append(mol is not None)
        rows.append(generator.GetFingerprintAsNumPy(mol).astype(np.float64) if mol is not None else np.zeros(BITS))
    return np.stack(rows), np.array(ok)


@dataclass(frozen=True)
class RidgeModel:
    """A fitted ridge: `predict(X) = X @ weights + intercept`."""

    weights: np.ndarray
    intercept: float
    alpha: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Scores or values for fingerprints (N, BITS)."""
        return features @ self.weights + self.intercept


def fit_ridge(features: np.ndarray, targets: np.ndarray, alpha: float) -> RidgeModel:
    """Closed-form ridge with an unpenalised intercept (dual form)."""
    mean_x, mean_y = features.mean(axis=0), float(targets.mean())
    centred = features - mean_x
    gram = centred @ centred.T + alpha * np.eye(len(centred))
    weights = centred.T @ np.linalg.solve(gram, targets - mean_y)
    return RidgeModel(weights, mean_y - float(mean_x @ weights), alpha)


def run_baseline(train: tuple[list[str], np.ndarray], valid: tuple[list[str], np.ndarray], test: tuple[list[str], np.ndarray], classification: bool) -> dict[str, float]:
    """Fit on train, pick alpha on valid (RMSE or ROC-AUC), report the test metrics of that alpha."""
    parts = {}
    for name, (smiles, targets) in (("train", train), ("valid", valid), ("test", test)):
        features, ok = morgan_fingerprints(smiles)
        parts[name] = (features[ok], np.asarray(targets, dtype=np.float64)[ok])

    def score(model: RidgeModel, part: str) -> dict[str, float]:
        features, targets = parts[part]
        prediction = model.predict(features)
        if classification:
            return {"roc_auc": roc_auc(targets, prediction)}
        return regression_metrics(targets, prediction)

    best, best_value = None, None
    for alpha in ALPHAS:
        model = fit_ridge(*parts["train"], alpha)
        value = score(model, "valid")["roc_auc" if classification else "rmse"]
        better = best_value is None or (value > best_value if classification else value < best_value)
        if better:
            best, best_value = model, value
    return {"alpha": best.alpha, **{f"valid_{k}": v for k, v in score(best, "valid").items()}, **{f"test_{k}": v for k, v in score(best, "test").items()}}
