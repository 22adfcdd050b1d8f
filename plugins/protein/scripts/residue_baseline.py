"""Baseline for a residue-level (token-classification) recipe: logistic regression on a window of residues.

Each residue is described by the one-hot amino acids at offsets -K..+K around it (21 letters: the 20
standard ones and "other / beyond the chain end"), the classic sequence-window baseline of
secondary-structure prediction. Uses the recipe's own data and split, so its per-residue accuracy
(over labelled residues) compares directly with the trained model's. Usage:

    python plugins/protein/scripts/residue_baseline.py plugins/protein/recipes/esm2-ss3-small.yaml --half-window 7
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

import torch

from sciformer.records import Record
from sciformer.training.recipe import load_recipe, recipe_records
from sciformer_protein.alphabet import AMINO_ACIDS
from sciformer_protein.host import protein_host

OTHER = len(AMINO_ACIDS)  # index of "not a standard residue / outside the chain"


def windows(records: Sequence[Record], labels: Sequence[str], unlabelled: str, half: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2K+1) letter indices around every labelled residue, and (N,) its class."""
    index = {aa: i for i, aa in enumerate(AMINO_ACIDS)}
    classes = {name: i for i, name in enumerate(labels)}
    rows, targets = [], []
    for record in records:
        letters = [index.get(c, OTHER) for c in record.data.upper()]
        padded = torch.tensor([OTHER] * half + letters + [OTHER] * half)
        for position, label in enumerate(record.target or ""):
            if label != unlabelled and label in classes:
                rows.append(padded[position : position + 2 * half + 1])
                targets.append(classes[label])
    return torch.stack(rows), torch.tensor(targets)


def one_hot(letters: torch.Tensor) -> torch.Tensor:
    """(N, W) letter indices -> (N, W * 21) features."""
    return torch.nn.functional.one_hot(letters, OTHER + 1).flatten(1).float()


def main() -> None:
    """Fit on train with Adam (mini-batches), report valid and test per-residue accuracy as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--half-window", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    parts = recipe_records(recipe, protein_host(), "protein")
    unlabelled = str(recipe.model.get("domain_options", {}).get("unlabelled", "."))
    labels = sorted({c for r in parts["train"] for c in (r.target or "")} - {unlabelled})
    data = {name: windows(records, labels, unlabelled, args.half_window) for name, records in parts.items()}
    torch.manual_seed(0)
    x, y = data["train"]
    model = torch.nn.Linear((2 * args.half_window + 1) * (OTHER + 1), len(labels))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(args.epochs):
        for batch in torch.randperm(len(y)).split(1024):
            loss = torch.nn.functional.cross_entropy(model(one_hot(x[batch])), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def accuracy(part: str) -> float:
        letters, truth = data[part]
        with torch.no_grad():
            return float((model(one_hot(letters)).argmax(-1) == truth).float().mean())

    majority = int(torch.bincount(y).argmax())
    print(json.dumps({
        "baseline": f"one-hot window of {2 * args.half_window + 1} residues + logistic regression",
        "labels": labels,
        "labelled_residues": {name: len(t) for name, (_, t) in data.items()},
        "records": {name: len(records) for name, records in parts.items()},
        "valid_accuracy": round(accuracy("valid"), 4),
        "test_accuracy": round(accuracy("test"), 4),
        "majority_class_test_accuracy": round(float((data["test"][1] == majority).float().mean()), 4),
    }, indent=2))


if __name__ == "__main__":
    main()
