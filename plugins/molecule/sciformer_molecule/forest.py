"""The strongest simple baselines of the MAT tasks, with scikit-learn: a random forest on RDKit's 2D
descriptors for regression (ESOL, FreeSolv), logistic regression on Morgan fingerprints for
classification (BBBP, reported as ROC-AUC). Hyper-parameters are chosen on the validation part only;
the test part is scored once, with the chosen setting."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import Descriptors

from sciformer_molecule.baseline import morgan_fingerprints
from sciformer_molecule.metrics import regression_metrics, roc_auc

TREES = 500
MAX_FEATURES = (0.33, 1.0)  # share of descriptors tried at each split (regression forests' usual range)
C_VALUES = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strength of the logistic regression
SEED = 0

Part = tuple[Sequence[str], np.ndarray]


def descriptors(smiles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) RDKit 2D descriptors (every entry of `Descriptors.descList`) and a (N,) mask of the
    SMILES that parsed; non-finite values (a few descriptors overflow on odd molecules) become 0."""
    rows, ok = [], []
    for text in smiles:
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(text)
            ok.append(mol is not None)
            rows.append([function(mol) for _, function in Descriptors.descList] if mol is not None else [0.0] * len(Descriptors.descList))
    values = np.asarray(rows, dtype=np.float64)
    return np.where(np.isfinite(values) & (np.abs(values) < 1e30), values, 0.0), np.asarray(ok)


def forest_baseline(train: Part, valid: Part, test: Part) -> dict[str, float]:
    """Random forest regression on descriptors: `max_features` chosen by validation RMSE."""
    from sklearn.ensemble import RandomForestRegressor

    parts = {name: _usable(descriptors, part) for name, part in (("train", train), ("valid", valid), ("test", test))}
    best, best_rmse = None, np.inf
    for share in MAX_FEATURES:
        forest = RandomForestRegressor(n_estimators=TREES, max_features=share, random_state=SEED, n_jobs=-1).fit(*parts["train"])
        rmse = regression_metrics(parts["valid"][1], forest.predict(parts["valid"][0]))["rmse"]
        if rmse < best_rmse:
            best, best_rmse = (share, forest), rmse
    share, forest = best
    valid_metrics = regression_metrics(parts["valid"][1], forest.predict(parts["valid"][0]))
    test_metrics = regression_metrics(parts["test"][1], forest.predict(parts["test"][0]))
    return {"baseline": "random forest on RDKit 2D descriptors", "max_features": share, **_prefixed("valid", valid_metrics), **_prefixed("test", test_metrics)}


def logistic_baseline(train: Part, valid: Part, test: Part) -> dict[str, float]:
    """L2 logistic regression on Morgan fingerprints: `C` chosen by validation ROC-AUC."""
    from sklearn.linear_model import LogisticRegression

    parts = {name: _usable(morgan_fingerprints, part) for name, part in (("train", train), ("valid", valid), ("test", test))}
    best, best_auc = None, -np.inf
    for c in C_VALUES:
        model = LogisticRegression(C=c, max_iter=2000).fit(parts["train"][0], parts["train"][1].astype(int))
        auc = roc_auc(parts["valid"][1], model.predict_proba(parts["valid"][0])[:, 1])
        if auc > best_auc:
            best, best_auc = (c, model), auc
    c, model = best
    test_auc = roc_auc(parts["test"][1], model.predict_proba(parts["test"][0])[:, 1])
    return {"baseline": "logistic regression on Morgan fingerprints", "C": c, "valid_roc_auc": best_auc, "test_roc_auc": test_auc}


def _usable(featurise, part: Part) -> tuple[np.ndarray, np.ndarray]:
    smiles, targets = part
    features, ok = featurise(smiles)
    return features[ok], np.asarray(targets, dtype=np.float64)[ok]


def _prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{name}": value for name, value in metrics.items()}
