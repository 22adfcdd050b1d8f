"""Baseline for a sequence-classification recipe: amino-acid composition + multinomial logistic regression.

Uses the recipe's own data and split (same reader options, fractions and seed as `sciformer train`),
so its test accuracy compares directly with the trained model's. The L2 strength, and for a recipe
that truncates sequences (domain_options.long_sequences: truncate) whether the composition counts
every residue or only the first max_residues the model sees, are chosen on the validation part; the
test part is scored once. Prints a baseline report (JSON). Usage:

    python plugins/protein/scripts/composition_baseline.py plugins/protein/recipes/esm2-deeploc-small.yaml
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from sciformer.baseline_report import BaselineReport, choose
from sciformer.records import Record
from sciformer.targets import class_names
from sciformer.training.recipe import load_recipe, recipe_records
from sciformer_protein.alphabet import AMINO_ACIDS
from sciformer_protein.host import protein_host

L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2)


def composition(records: Sequence[Record], max_residues: int | None) -> torch.Tensor:
    """(N, 20) share of each standard amino acid (of the first `max_residues` residues when given)."""
    features = torch.zeros(len(records), len(AMINO_ACIDS))
    index = {aa: i for i, aa in enumerate(AMINO_ACIDS)}
    for row, record in enumerate(records):
        sequence = record.data.upper()[:max_residues]
        for letter in sequence:
            if letter in index:
                features[row, index[letter]] += 1
        features[row] /= max(len(sequence), 1)
    return features


def fit(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> torch.nn.Linear:
    """Multinomial logistic regression by L-BFGS on standardised features."""
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y) + l2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return model


def standardised(parts: dict[str, list[Record]], labels: list[str], max_residues: int | None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Compositions of each part scaled by the training mean / std, and class indices."""
    data = {name: (composition(records, max_residues), torch.tensor([labels.index(r.target) for r in records])) for name, records in parts.items()}
    mean, std = data["train"][0].mean(0), data["train"][0].std(0).clamp(min=1e-6)
    return {name: ((x - mean) / std, y) for name, (x, y) in data.items()}


def accuracy(model: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of rows whose highest logit is their class."""
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).float().mean())


def main() -> None:
    """Fit each candidate on train, choose on valid, score the chosen one on test; print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    parts = recipe_records(recipe, protein_host(), "protein")
    labels = class_names(r.target for r in parts["train"])
    parts = {name: [r for r in records if r.target in labels] for name, records in parts.items()}
    options = recipe.model.get("domain_options") or {}
    limit = options.get("max_residues") if options.get("long_sequences") == "truncate" else None
    scopes = {"all residues": None, **({f"first {limit} residues": limit} if limit else {})}
    fitted, valid = {}, {}
    for scope, residues in scopes.items():
        data = standardised(parts, labels, residues)
        for l2 in L2_GRID:
            name = f"{scope}, l2={l2:g}"
            fitted[name] = (fit(*data["train"], len(labels), l2), data)
            valid[name] = accuracy(fitted[name][0], *data["valid"])
    chosen = choose(valid, higher_is_better=True)
    model, data = fitted[chosen]
    majority = data["train"][1].mode().values
    print(BaselineReport(
        model=Path(args.recipe).stem,
        baseline="amino-acid composition + logistic regression",
        metric="accuracy",
        higher_is_better=True,
        valid=valid[chosen],
        test=accuracy(model, *data["test"]),
        test_records=len(data["test"][1]),
        chosen=chosen,
        candidates=valid,
        details={"records": {name: len(records) for name, records in parts.items()}, "majority_class_test_accuracy": float((data["test"][1] == majority).float().mean())},
    ).to_json())


if __name__ == "__main__":
    main()
