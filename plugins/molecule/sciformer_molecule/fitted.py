"""A simple baseline fitted on a training part with its setting chosen on a validation part, ready to
score a test part once; shared by the fingerprint ridge, the descriptor forest and logistic regression."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sciformer_molecule.metrics import regression_metrics, roc_auc

Part = tuple[Sequence[str], np.ndarray]  # SMILES and targets (0 / 1 for classification)
Featuriser = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]  # SMILES -> features, parsed mask


@dataclass(frozen=True)
class Fitted:
    """`name` with `setting` chosen on validation: `valid` holds its validation metrics, `tried` the
    selection metric (RMSE or ROC-AUC) of every setting tried."""

    name: str
    setting: dict[str, float]
    valid: dict[str, float]
    tried: dict[str, float]
    featurise: Featuriser
    predict: Callable[[np.ndarray], np.ndarray]
    classification: bool

    @property
    def metric(self) -> str:
        """The selection metric: ROC-AUC for classification, RMSE for regression."""
        return "roc_auc" if self.classification else "rmse"

    def score(self, part: Part) -> tuple[dict[str, float], int]:
        """Metrics on a part, and the number of rows scored: its unparsable SMILES are left out."""
        features, targets = usable(self.featurise, part)
        return part_metrics(targets, self.predict(features), self.classification), len(targets)


def usable(featurise: Featuriser, part: Part) -> tuple[np.ndarray, np.ndarray]:
    """Features and float targets of the rows of a part whose SMILES parse."""
    smiles, targets = part
    features, ok = featurise(smiles)
    return features[ok], np.asarray(targets, dtype=np.float64)[ok]


def part_metrics(targets: np.ndarray, predictions: np.ndarray, classification: bool) -> dict[str, float]:
    """ROC-AUC of scores (classification), else RMSE, MAE and R^2."""
    return {"roc_auc": roc_auc(targets, predictions)} if classification else regression_metrics(targets, predictions)


def prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    """`{"rmse": 1.0}` -> `{"valid_rmse": 1.0}` for prefix "valid"."""
    return {f"{prefix}_{name}": value for name, value in metrics.items()}
