"""Baseline for a vision recipe: multinomial logistic regression on raw pixels, on the recipe's own split.

Reads the recipe's data with the plugin's readers, splits it exactly as the trainer does
(`data.split` and its seed), scales pixels by the recipe's preprocessing (rescale, then the
training mean / std), fits softmax regression by full-batch L-BFGS for each L2 strength in
STRENGTHS, keeps the one with the best validation accuracy and scores it once on test. Prints a
baseline report (JSON).

    python plugins/vision/scripts/baseline_logreg.py plugins/vision/recipes/vit-mnist-small.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sciformer.baseline_report import BaselineReport, choose
from sciformer.plugins import PluginHost
from sciformer.targets import class_names
from sciformer.training.recipe import load_recipe, recipe_records
from sciformer_vision.pixel_values import DTYPE_SCALE

STRENGTHS = (1e-4, 1e-3, 1e-2, 1e-1)  # L2 penalty per weight, mean-loss units


def features(records: list, rescale: float | None) -> np.ndarray:
    """(N, pixels) float64 matrix of flattened, rescaled images."""
    rows = []
    for record in records:
        image = np.asarray(record.data)
        scale = rescale if rescale is not None else DTYPE_SCALE.get(image.dtype, 1.0)
        rows.append(image.astype(np.float64).reshape(-1) * scale)
    return np.stack(rows)


def fit(x: torch.Tensor, y: torch.Tensor, classes: int, strength: float) -> torch.nn.Linear:
    """Softmax regression with an L2 penalty, by full-batch L-BFGS."""
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], classes, dtype=torch.float64)
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=500, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y) + strength * model.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return model


def main(recipe_path: str) -> None:
    """Fit each L2 strength on train, choose on valid, score the chosen one on test; print the report."""
    host = PluginHost()
    recipe = load_recipe(recipe_path)
    parts = recipe_records(recipe, host, "vision")
    labels = class_names(r.target for r in parts["train"] if not r.error)
    parts = {name: [r for r in records if not r.error and str(r.target) in labels] for name, records in parts.items()}
    rescale = (recipe.model.get("domain_options") or {}).get("rescale")
    data = {name: features(records, rescale) for name, records in parts.items()}
    mean, std = data["train"].mean(axis=0), data["train"].std(axis=0) + 1e-6
    x = {name: torch.from_numpy((values - mean) / std) for name, values in data.items()}
    y = {name: torch.tensor([labels.index(str(r.target)) for r in records]) for name, records in parts.items()}

    def accuracy(model: torch.nn.Linear, part: str) -> float:
        with torch.no_grad():
            return float((model(x[part]).argmax(dim=1) == y[part]).double().mean())

    fitted, valid = {}, {}
    for strength in STRENGTHS:
        name = f"l2={strength:g}"
        fitted[name] = fit(x["train"], y["train"], len(labels), strength)
        valid[name] = accuracy(fitted[name], "valid")
    chosen = choose(valid, higher_is_better=True)
    report = BaselineReport(
        model=Path(recipe_path).stem,
        baseline="logistic regression on standardised pixels",
        metric="accuracy",
        higher_is_better=True,
        valid=valid[chosen],
        test=accuracy(fitted[chosen], "test"),
        test_records=len(parts["test"]),
        chosen=chosen,
        candidates=valid,
        details={"records": {name: len(records) for name, records in parts.items()}},
    )
    sys.stdout.write(report.to_json() + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: baseline_logreg.py RECIPE.yaml")
    main(sys.argv[1])
