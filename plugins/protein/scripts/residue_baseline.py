"""Baseline for a residue-level (token-classification) recipe: logistic regression on a window of residues.

Each residue is described by the one-hot amino acids at offsets -K..+K around it (21 letters: the 20
standard ones and "other / beyond the chain end"), the classic sequence-window baseline of
secondary-structure prediction. Uses the recipe's own data and split, so its per-residue accuracy
(over labelled residues) compares directly with the trained model's. The window's width is chosen on
the validation part; the test part is scored once. Prints a baseline report (JSON). Usage:

    python plugins/protein/scripts/residue_baseline.py plugins/protein/recipes/esm2-ss3-small.yaml
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sciformer.baseline_report import accuracy_report, recipe_parts
from sciformer.linear_probe import accuracy
from sciformer.records import Record
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


def main() -> None:
    """Fit a window of each width on train, choose the width on valid, score it on test; print the report."""
    args, recipe, parts = recipe_parts(__doc__, "protein", protein_host(), lambda parser: parser.add_argument("--epochs", type=int, default=3))
    unlabelled = str(recipe.model.get("domain_options", {}).get("unlabelled", "."))
    labels = sorted({c for r in parts["train"] for c in (r.target or "")} - {unlabelled})
    fitted, valid = {}, {}
    for half in HALF_WINDOWS:
        name = f"window of {2 * half + 1} residues"
        data = {part: windows(records, labels, unlabelled, half) for part, records in parts.items()}
        fitted[name] = (fit(*data["train"], len(labels), args.epochs), data)
        valid[name] = accuracy(fitted[name][0], one_hot(data["valid"][0]), data["valid"][1])

    def test(name: str) -> float:
        model, scoped = fitted[name]
        return accuracy(model, one_hot(scoped["test"][0]), scoped["test"][1])

    majority = int(torch.bincount(data["train"][1]).argmax())
    details = {
        "labels": labels,
        "records": {part: len(records) for part, records in parts.items()},
        "labelled_residues": {part: len(truth) for part, (_, truth) in data.items()},
        "majority_class_test_accuracy": float((data["test"][1] == majority).float().mean()),
    }
    print(accuracy_report(args.recipe, "one-hot residue window + logistic regression", valid, test, len(parts["test"]), details).to_json())


if __name__ == "__main__":
    main()
