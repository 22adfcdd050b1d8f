"""The strongest simple baselines of the MAT tasks, with scikit-learn: a random forest on RDKit's 2D
descriptors for regression (ESOL, FreeSolv), logistic regression on Morgan fingerprints for
classification (BBBP, reported as ROC-AUC). Hyper-parameters are chosen on the validation part only;
the test part is scored once, with the chosen setting."""

from __future__ import annotations

import numpy as np
from sciformer.baseline_report import choose

from sciformer_molecule.baseline import morgan_fingerprints
from sciformer_molecule.descriptors import descriptors
from sciformer_molecule.fitted import Fitted, Part, prefixed, usable
from sciformer_molecule.metrics import regression_metrics, roc_auc

TREES = 500
MAX_FEATURES = (0.33, 1.0)  # share of descriptors tried at each split (regression forests' usual range)
C_VALUES = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strength of the logistic regression
SEED = 0


def fit_forest(train: Part, valid: Part) -> Fitted:
    """Random forest regression on descriptors: `max_features` chosen by validation RMSE."""
    from sklearn.ensemble import RandomForestRegressor

    (x, y), (valid_x, valid_y) = usable(descriptors, train), usable(descriptors, valid)
    forests = {f"max_features={share:g}": RandomForestRegressor(n_estimators=TREES, max_features=share, random_state=SEED, n_jobs=-1).fit(x, y) for share in MAX_FEATURES}
    metrics = {name: regression_metrics(valid_y, forest.predict(valid_x)) for name, forest in forests.items()}
    tried = {name: values["rmse"] for name, values in metrics.items()}
    chosen = choose(tried, higher_is_better=False)
    forest = forests[chosen]
    return Fitted("random forest on RDKit 2D descriptors", {"max_features": forest.max_features}, metrics[chosen], tried, descriptors, forest.predict, False)


def fit_logistic(train: Part, valid: Part) -> Fitted:
    """L2 logistic regression on Morgan fingerprints: `C` chosen by validation ROC-AUC."""
    from sklearn.linear_model import LogisticRegression

    (x, y), (valid_x, valid_y) = usable(morgan_fingerprints, train), usable(morgan_fingerprints, valid)
    models = {f"C={c:g}": LogisticRegression(C=c, max_iter=2000).fit(x, y.astype(int)) for c in C_VALUES}
    tried = {name: roc_auc(valid_y, model.predict_proba(valid_x)[:, 1]) for name, model in models.items()}
    chosen = choose(tried, higher_is_better=True)
    model = models[chosen]

    def probability(features: np.ndarray) -> np.ndarray:
        return model.predict_proba(features)[:, 1]

    return Fitted("logistic regression on Morgan fingerprints", {"C": model.C}, {"roc_auc": tried[chosen]}, tried, morgan_fingerprints, probability, True)


def forest_baseline(train: Part, valid: Part, test: Part) -> dict[str, float]:
    """The forest fitted and chosen on train / valid, scored on test."""
    fitted = fit_forest(train, valid)
    return {"baseline": fitted.name, **fitted.setting, **prefixed("valid", fitted.valid), **prefixed("test", fitted.score(test)[0])}


def logistic_baseline(train: Part, valid: Part, test: Part) -> dict[str, float]:
    """Logistic regression fitted and chosen on train / valid, scored on test."""
    fitted = fit_logistic(train, valid)
    return {"baseline": fitted.name, **fitted.setting, **prefixed("valid", fitted.valid), **prefixed("test", fitted.score(test)[0])}
