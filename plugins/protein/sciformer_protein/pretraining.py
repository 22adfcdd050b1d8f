"""Pre-training sequences drawn from fine-tuning recipes, none of their held-out records among them.

A `.sources` file (YAML) names the recipes whose sequences a masked-LM stage learns from:

    recipes: [../recipes/esm2-deeploc-small.yaml, ../recipes/esm2-ss3-small.yaml]

Each recipe is read as training reads it (its `full_data:` when SCIFORMER_DATA is set, its split
and seed), and only the records of its **train** part are kept, labels dropped. A sequence that is
also in any recipe's valid or test part is left out, so neither the fine-tuning choices (made on
valid) nor the reported test figures rest on sequences the pre-trained model has read. Identical
sequences are kept once; record ids are `RECIPE-NAME/ID`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from sciformer.errors import InputFileError
from sciformer.records import Record

HELD_OUT = ("valid", "test")


def source_recipes(path: Path) -> list[Path]:
    """The recipe files a `.sources` file names, taken from its folder when relative."""
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise InputFileError(f"{path}: not a YAML sources file: {error}") from error
    recipes = content.get("recipes") if isinstance(content, dict) else None
    if not isinstance(recipes, list) or not recipes or not all(isinstance(r, str) for r in recipes):
        raise InputFileError(f"{path}: expected 'recipes:' with a list of recipe files")
    return [(path.parent / recipe).resolve() for recipe in recipes]


def pretraining_records(recipes: Sequence[Path]) -> Iterator[Record]:
    """The unlabelled training-part sequences of `recipes`, without any held-out sequence of any of them."""
    from sciformer.training.recipe import load_recipe, recipe_records

    from .host import protein_host

    host = protein_host()
    parts = {recipe: recipe_records(load_recipe(recipe), host, "protein") for recipe in recipes}
    held_out = {record.data.upper() for split in parts.values() for part in HELD_OUT for record in split[part]}
    seen: set[str] = set()
    for recipe, split in parts.items():
        for record in split["train"]:
            sequence = record.data.upper()
            if sequence in held_out or sequence in seen:
                continue
            seen.add(sequence)
            yield Record(f"{recipe.stem}/{record.id}", record.data)


def read_sources(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Records of a `.sources` file: see the module's docstring."""
    yield from pretraining_records(source_recipes(Path(path)))
