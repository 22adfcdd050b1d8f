"""Write a small subset shipped in plugins/protein/data/: the first records of a recipe's test split.

    python plugins/protein/scripts/make_data_subset.py plugins/protein/recipes/esm2-deeploc-small.yaml deeploc_sample --count 60 --fasta
    python plugins/protein/scripts/make_data_subset.py plugins/protein/recipes/esm2-ss3-small.yaml netsurfp_sample --count 20

Writes NAME.csv (the source table's rows, all columns) and with --fasta also NAME.fasta (header
`>ID LOCATION-MEMBRANE`, as in the DeepLoc FASTA) into plugins/protein/data/.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from sciformer.training.recipe import load_recipe, recipe_records
from sciformer_protein.host import protein_host

DATA = Path(__file__).resolve().parents[1] / "data"


def main() -> None:
    """Take the first --count test records of the recipe's split, with their original table rows."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("name")
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--fasta", action="store_true", help="Also write a FASTA file (DeepLoc columns).")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    wanted = [r.id for r in recipe_records(recipe, protein_host(), "protein")["test"][: args.count]]
    with open(recipe.data["train"], encoding="utf-8", newline="") as handle:
        table = csv.DictReader(handle)
        columns = list(table.fieldnames or [])
        rows = {row["id"]: row for row in table}
    DATA.mkdir(exist_ok=True)
    with open(DATA / f"{args.name}.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows[i] for i in wanted)
    if args.fasta:
        with open(DATA / f"{args.name}.fasta", "w", encoding="utf-8") as handle:
            for i in wanted:
                row = rows[i]
                handle.write(f">{i} {row['location']}-{row['membrane']}\n")
                handle.writelines(row["sequence"][start : start + 60] + "\n" for start in range(0, len(row["sequence"]), 60))


if __name__ == "__main__":
    main()
