"""Baseline for a residue-level (token-classification) recipe: logistic regression on a window of residues.

Each residue is described by the one-hot amino acids at offsets -K..+K around it (21 letters: the 20
standard ones and "other / beyond the chain end"), the classic sequence-window baseline of
secondary-structure prediction. Uses the recipe's own data and split, so its per-residue accuracy
(over labelled residues) compares directly with the trained model's. The window's width is chosen on
the validation part; the test part is scored once. Prints a baseline report (JSON). Usage:

    python plugins/protein/scripts/residue_baseline.py plugins/protein/recipes/esm2-ss3-small.yaml
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from sciformer.baseline_report import BaselineReport, choose
from sciformer.records import Record
from sciformer.training.recipe import load_recipe, recipe_records
from sciformer_protein.alphabet import AMINO_ACIDS
from sciformer_protein.host import protein_host

OTHER = len(AMINO_ACIDS)  # index of "not a standard residue / outside the chain"
HALF_WINDOWS = (3, 5, 7, 9, 11, 13)  # residues on each side: windows of 7 to 27


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


def fit(x: torch.Tensor, y: torch.Tensor, classes: int, epochs: int) -> torch.nn.Linear:
    """Softmax regression on one-hot windows, by Adam on mini-batches of 1,024 residues."""
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1] * (OTHER + 1), classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(y)).split(1024):
            loss = torch.nn.functional.cross_entropy(model(one_hot(x[batch])), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def accuracy(model: torch.nn.Linear, letters: torch.Tensor, truth: torch.Tensor) -> float:
    """Share of residues whose highest logit is their class."""
    with torch.no_grad():
        return float((model(one_hot(letters)).argmax(-1) == truth).float().mean())


def main() -> None:
    """Fit a window of each width on train, choose the width on valid, score it on test; print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    parts = recipe_records(recipe, protein_host(), "protein")
    unlabelled = str(recipe.model.get("domain_options", {}).get("unlabelled", "."))
    labels = sorted({c for r in parts["train"] for c in (r.target or "")} - {unlabelled})
    fitted, valid = {}, {}
    for half in HALF_WINDOWS:
        name = f"window of {2 * half + 1} residues"
        data = {part: windows(records, labels, unlabelled, half) for part, records in parts.items()}
        fitted[name] = (fit(*data["train"], len(labels), args.epochs), data)
        valid[name] = accuracy(fitted[name][0], *data["valid"])
    chosen = choose(valid, higher_is_better=True)
    model, data = fitted[chosen]
    majority = int(torch.bincount(data["train"][1]).argmax())
    print(BaselineReport(
        model=Path(args.recipe).stem,
        baseline="one-hot residue window + logistic regression",
        metric="accuracy",
        higher_is_better=True,
        valid=valid[chosen],
        test=accuracy(model, *data["test"]),
        test_records=len(parts["test"]),
        chosen=chosen,
        candidates=valid,
        details={
            "labels": labels,
            "records": {part: len(records) for part, records in parts.items()},
            "labelled_residues": {part: len(truth) for part, (_, truth) in data.items()},
            "majority_class_test_accuracy": float((data["test"][1] == majority).float().mean()),
        },
    ).to_json())


if __name__ == "__main__":
    main()
