"""Baseline for a sequence-classification recipe: amino-acid composition + multinomial logistic regression.

Uses the recipe's own data and split (same reader options, fractions and seed as `sciformer train`),
so its test accuracy compares directly with the trained model's. The L2 strength is chosen on the
validation part. Usage:

    python plugins/protein/scripts/composition_baseline.py plugins/protein/recipes/esm2-deeploc-small.yaml
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

import torch

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


def main() -> None:
    """Fit on train, choose L2 on valid, report valid and test accuracy as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--truncate", action="store_true", help="Use only the residues the model sees (domain_options.max_residues).")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    parts = recipe_records(recipe, protein_host(), "protein")
    labels = class_names(r.target for r in parts["train"])
    limit = recipe.model.get("domain_options", {}).get("max_residues") if args.truncate else None
    data = {}
    for name, records in parts.items():
        kept = [r for r in records if r.target in labels]
        data[name] = (composition(kept, limit), torch.tensor([labels.index(r.target) for r in kept]))
    mean, std = data["train"][0].mean(0), data["train"][0].std(0).clamp(min=1e-6)
    scaled = {name: ((x - mean) / std, y) for name, (x, y) in data.items()}

    def accuracy(model: torch.nn.Linear, part: str) -> float:
        x, y = scaled[part]
        with torch.no_grad():
            return float((model(x).argmax(-1) == y).float().mean())

    fits = {l2: fit(*scaled["train"], len(labels), l2) for l2 in L2_GRID}
    best = max(L2_GRID, key=lambda l2: accuracy(fits[l2], "valid"))
    result = {
        "baseline": "amino-acid composition + logistic regression",
        "residues": f"first {limit}" if limit else "all",
        "l2": best,
        "records": {name: len(y) for name, (_, y) in data.items()},
        "valid_accuracy": round(accuracy(fits[best], "valid"), 4),
        "test_accuracy": round(accuracy(fits[best], "test"), 4),
        "majority_class_test_accuracy": round(float((data["test"][1] == data["train"][1].mode().values).float().mean()), 4),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
