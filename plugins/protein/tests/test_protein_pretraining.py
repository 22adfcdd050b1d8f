"""Pre-training sequences from the fine-tuning recipes: their train parts only, no held-out sequence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sciformer.errors import InputFileError
from sciformer.reading import read_records
from sciformer.training.recipe import DATA_ENV, load_recipe, recipe_records

PLUGIN = Path(__file__).resolve().parents[1]
SOURCES = PLUGIN / "data" / "pretraining.sources"


def _parts(host, recipe: Path) -> dict:
    return recipe_records(load_recipe(recipe), host, "protein")


def test_shipped_sources_hold_the_train_parts_and_no_valid_or_test_sequence(host, monkeypatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    records = list(read_records(host, "protein", SOURCES, {}))
    parts = [_parts(host, PLUGIN / "recipes" / name) for name in ("esm2-deeploc-small.yaml", "esm2-ss3-small.yaml")]
    held_out = {r.data for split in parts for part in ("valid", "test") for r in split[part]}
    train = {r.data for split in parts for r in split["train"]}
    sequences = [r.data for r in records]
    assert len(records) == 64 and all(r.target is None for r in records)
    assert set(sequences) == train - held_out and len(set(sequences)) == len(sequences)
    assert records[0].id.startswith("esm2-deeploc-small/")


def test_a_training_sequence_also_held_out_is_left_out_and_duplicates_are_kept_once(host, tmp_path) -> None:
    rows = [f"p{i},{'MKTAYIAKQR' + 'ACDEFGHIKL'[i % 10] * (i + 1)}" for i in range(20)]
    rows += [f"copy{i},{row.split(',')[1]}" for i, row in enumerate(rows)]  # every sequence twice
    table = tmp_path / "seqs.csv"
    table.write_text("id,sequence\n" + "\n".join(rows) + "\n")
    recipe = tmp_path / "tune.yaml"
    recipe.write_text(yaml.safe_dump({"model": {"domain": "protein", "task": "mlm"}, "data": {"train": str(table), "split": {"valid": 0.2, "test": 0.2, "seed": 0}}}))
    (tmp_path / "pre.sources").write_text("recipes: [tune.yaml]\n")
    split = _parts(host, recipe)
    held_out = {r.data for part in ("valid", "test") for r in split[part]}
    kept = [r.data for r in read_records(host, "protein", tmp_path / "pre.sources", {})]
    assert kept and not set(kept) & held_out and len(set(kept)) == len(kept)
    assert set(kept) == {r.data for r in split["train"]} - held_out


@pytest.mark.parametrize("content", ["recipes: []\n", "other: 1\n", "recipes: [1, 2]\n", "recipes: [unclosed\n"])
def test_a_bad_sources_file_is_named(host, tmp_path, content) -> None:
    path = tmp_path / "bad.sources"
    path.write_text(content)
    with pytest.raises(InputFileError, match="bad.sources"):
        list(read_records(host, "protein", path, {}))
