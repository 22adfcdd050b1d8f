"""The strongest simple baselines: a forest on descriptors and logistic regression on fingerprints."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
from sciformer_molecule.descriptors import descriptors
from sciformer_molecule.forest import forest_baseline, logistic_baseline

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "esol_sample.csv"


def _parts() -> list[tuple[list[str], np.ndarray]]:
    rows = list(csv.DictReader(open(SAMPLE, encoding="utf-8")))  # noqa: SIM115
    smiles, targets = [r["smiles"] for r in rows], np.array([float(r["logS"]) for r in rows])
    cut = [0, len(rows) * 3 // 5, len(rows) * 4 // 5, len(rows)]
    return [(smiles[a:b], targets[a:b]) for a, b in itertools.pairwise(cut)]


def test_descriptors_are_finite_and_unparsable_smiles_are_masked() -> None:
    values, ok = descriptors(["CCO", "not a molecule", "c1ccccc1"])
    assert ok.tolist() == [True, False, True] and np.isfinite(values).all() and values.shape[1] > 100


def test_forest_beats_the_mean_on_held_out_solubility() -> None:
    train, valid, test = _parts()
    result = forest_baseline(train, valid, test)
    mean_rmse = float(np.sqrt(np.mean((test[1] - train[1].mean()) ** 2)))
    assert result["max_features"] in (0.33, 1.0) and result["test_rmse"] < mean_rmse


def test_logistic_regression_ranks_a_binary_target() -> None:
    train, valid, test = ((smiles, (targets < -3).astype(float)) for smiles, targets in _parts())
    result = logistic_baseline(train, valid, test)
    assert result["C"] in (0.01, 0.1, 1.0, 10.0) and result["test_roc_auc"] > 0.6
