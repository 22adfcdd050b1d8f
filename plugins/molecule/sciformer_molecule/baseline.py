"""The classical baseline: ridge regression on Morgan fingerprints (closed form, numpy only).

Fingerprints are 2048-bit Morgan / ECFP4 (radius 2). Ridge is solved in its dual form
`w = X^T (X X^T + alpha I)^-1 (y - mean)`, cheap when there are fewer molecules than bits. Alpha is
picked on the validation part from a fixed grid. For classification the same ridge on 0 / 1 labels
gives scores whose ROC-AUC is reported (a ridge classifier).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdFingerprintGenerator
from sciformer.baseline_report import choose

from sciformer_molecule.fitted import Fitted, Part, part_metrics, prefixed, usable

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


def fit_ridge_baseline(train: Part, valid: Part, classification: bool) -> Fitted:
    """Ridge on fingerprints fitted on train for each alpha; the alpha with the best validation RMSE
    (or ROC-AUC) is kept."""
    (x, y), (valid_x, valid_y) = usable(morgan_fingerprints, train), usable(morgan_fingerprints, valid)
    models = {f"alpha={alpha:g}": fit_ridge(x, y, alpha) for alpha in ALPHAS}
    metrics = {name: part_metrics(valid_y, model.predict(valid_x), classification) for name, model in models.items()}
    key = "roc_auc" if classification else "rmse"
    tried = {name: values[key] for name, values in metrics.items()}
    chosen = choose(tried, higher_is_better=classification)
    model = models[chosen]
    return Fitted("ridge on Morgan fingerprints", {"alpha": model.alpha}, metrics[chosen], tried, morgan_fingerprints, model.predict, classification)


def run_baseline(train: Part, valid: Part, test: Part, classification: bool) -> dict[str, float]:
    """Fit on train, pick alpha on valid (RMSE or ROC-AUC), report the test metrics of that alpha."""
    fitted = fit_ridge_baseline(train, valid, classification)
    return {**fitted.setting, **prefixed("valid", fitted.valid), **prefixed("test", fitted.score(test)[0])}
