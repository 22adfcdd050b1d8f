"""Baseline for a molecule recipe (a table of SMILES): the strongest simple baseline, on the recipe's split.

Reads the recipe's train / valid / test records as `sciformer train` does (its files, or `data.split`
with its seed). Regression (ESOL, FreeSolv): a random forest on RDKit 2D descriptors and ridge on Morgan
fingerprints, RMSE; each family's setting, then the family, chosen on the validation part.
Classification with two classes (BBBP): logistic regression on Morgan fingerprints, its L2 strength
chosen on the validation part, ROC-AUC of the second class name (`1` of 0 / 1 labels). The test part
is scored once. Rows whose SMILES do not parse are left out. Prints a baseline report (JSON).

    python plugins/molecule/scripts/strongest_baseline.py plugins/molecule/recipes/mat-esol-small.yaml
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sciformer.baseline_report import BaselineReport, choose, labelled_parts, recipe_parts
from sciformer.errors import ConfigError
from sciformer.records import Record
from sciformer_molecule.baseline import fit_ridge_baseline
from sciformer_molecule.fitted import Part
from sciformer_molecule.forest import fit_forest, fit_logistic


def table(records: list[Record], positive: str | None) -> Part:
    """SMILES and float targets of labelled records (1.0 for the `positive` class when classifying)."""
    kept = [r for r in records if r.target is not None and not r.error]
    if any(not isinstance(r.data, str) for r in kept):
        raise ConfigError("the molecule baseline reads SMILES tables; this recipe's records are not SMILES strings")
    targets = [float(str(r.target) == positive) if positive is not None else float(r.target) for r in kept]
    return [r.data for r in kept], np.asarray(targets)


def main() -> None:
    """Fit each family on train, choose on valid, score the chosen one on test; print the report."""
    args, recipe, records = recipe_parts(__doc__, "molecule")
    classification = recipe.model.get("task") == "sequence-classification"
    positive = None
    if classification:
        labels, _ = labelled_parts(records)
        if len(labels) != 2:
            raise ConfigError(f"the molecule baseline ranks two classes (ROC-AUC); the training records have {labels}")
        positive = labels[1]
    parts = {name: table(part, positive) for name, part in records.items()}
    if classification:
        fits = [fit_logistic(parts["train"], parts["valid"])]
    else:
        fits = [fit_forest(parts["train"], parts["valid"]), fit_ridge_baseline(parts["train"], parts["valid"], classification=False)]
    metric = fits[0].metric
    candidates = {f"{fit.name}, {setting}": value for fit in fits for setting, value in fit.tried.items()}
    best = {fit.name: fit for fit in fits}[choose({fit.name: fit.valid[metric] for fit in fits}, higher_is_better=classification)]
    test, rows = best.score(parts["test"])
    print(BaselineReport(
        model=Path(args.recipe).stem,
        baseline=best.name,
        metric=metric,
        higher_is_better=classification,
        valid=best.valid[metric],
        test=test[metric],
        test_records=rows,
        chosen=", ".join(f"{name}={value:g}" for name, value in best.setting.items()),
        candidates=candidates,
        details={"valid_metrics": best.valid, "test_metrics": test, "positive_class": positive, "records": {name: len(part[0]) for name, part in parts.items()}},
    ).to_json())


if __name__ == "__main__":
    main()
