"""Baseline for a sequence-classification recipe: amino-acid composition + multinomial logistic regression.

Uses the recipe's own data and split (same reader options, fractions and seed as `sciformer train`),
so its test accuracy compares directly with the trained model's. The L2 strength, and for a recipe
that truncates sequences (domain_options.long_sequences: truncate) whether the composition counts
every residue or only the first max_residues the model sees, are chosen on the validation part; the
test part is scored once. Prints a baseline report (JSON). Usage:

    python plugins/protein/scripts/composition_baseline.py plugins/protein/recipes/esm2-deeploc-small.yaml
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sciformer.baseline_report import accuracy_report, labelled_parts, recipe_parts
from sciformer.linear_probe import accuracy, fit_softmax, standardised
from sciformer.records import Record
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


def standardised_parts(parts: dict[str, list[Record]], labels: list[str], max_residues: int | None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Compositions of each part scaled by the training mean / std, and class indices."""
    features = standardised({name: composition(records, max_residues) for name, records in parts.items()})
    return {name: (features[name], torch.tensor([labels.index(r.target) for r in records])) for name, records in parts.items()}


def main() -> None:
    """Fit each candidate on train, choose on valid, score the chosen one on test; print the report."""
    args, recipe, parts = recipe_parts(__doc__, "protein", protein_host())
    labels, parts = labelled_parts(parts)
    options = recipe.model.get("domain_options") or {}
    limit = options.get("max_residues") if options.get("long_sequences") == "truncate" else None
    scopes = {"all residues": None, **({f"first {limit} residues": limit} if limit else {})}
    fitted, valid = {}, {}
    for scope, residues in scopes.items():
        data = standardised_parts(parts, labels, residues)
        for l2 in L2_GRID:
            name = f"{scope}, l2={l2:g}"
            fitted[name] = (fit_softmax(*data["train"], len(labels), l2), data)
            valid[name] = accuracy(fitted[name][0], *data["valid"])

    def test(name: str) -> float:
        model, scoped = fitted[name]
        return accuracy(model, *scoped["test"])

    truth = data["test"][1]
    majority = data["train"][1].mode().values
    details = {"records": {name: len(records) for name, records in parts.items()}, "majority_class_test_accuracy": float((truth == majority).float().mean())}
    print(accuracy_report(args.recipe, "amino-acid composition + logistic regression", valid, test, len(truth), details).to_json())


if __name__ == "__main__":
    main()
