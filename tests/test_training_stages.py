"""Recipes chained through `init:` another recipe file: the stage trains first, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sciformer.errors import ConfigError
from sciformer.training.recipe import train_recipe


def chained(tmp_path: Path, write_recipe) -> tuple[Path, Path]:
    """A causal pre-training stage and a classification recipe that starts from its output."""
    stage = write_recipe(tmp_path / "stage", training={"max_steps": 10, "eval_every": 5})
    table = tmp_path / "labels.csv"
    rows = ["text,label"] + ["<start> man ordered the chicken,meat-a"] * 4 + ["<start> woman ordered the beef,meat-b"] * 4
    table.write_text("\n".join(rows) + "\n")
    tune = write_recipe(tmp_path / "tune", training={"max_steps": 10, "eval_every": 5})
    raw = yaml.safe_load(tune.read_text())
    raw.update(init="../stage/recipe.yaml", data={"train": str(table), "valid": str(table), "options": {"target_column": "label"}})
    raw["model"] = {"domain": "text", "task": "sequence-classification", "causal": False}
    tune.write_text(yaml.safe_dump(raw))
    return stage, tune


def test_a_recipe_trains_its_init_stage_first_and_reuses_it_afterwards(host, tmp_path, write_recipe, caplog) -> None:
    _stage, tune = chained(tmp_path, write_recipe)
    stage_output = tmp_path / "stage" / "run"
    with caplog.at_level("INFO"):
        result = train_recipe(tune, host)
    assert "init stage recipe.yaml: no finished run" in caplog.text
    assert json.loads((stage_output / "summary.json").read_text())["steps"] == 10
    assert json.loads((result.output / "summary.json").read_text())["steps"] == 10
    before = (stage_output / "model.safetensors").stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level("INFO"):
        train_recipe(tune, host)
    assert "training it first" not in caplog.text
    assert (stage_output / "model.safetensors").stat().st_mtime_ns == before, "a finished stage is reused"


def test_a_stage_trained_from_another_recipe_version_or_a_loop_is_refused(host, tmp_path, write_recipe) -> None:
    stage, tune = chained(tmp_path, write_recipe)
    train_recipe(stage, host)
    raw = yaml.safe_load(stage.read_text())
    raw["training"]["lr"] = 0.5
    stage.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="was trained from another version of recipe.yaml"):
        train_recipe(tune, host)
    raw["init"] = "../tune/recipe.yaml"
    stage.write_text(yaml.safe_dump(raw))
    (tmp_path / "stage" / "run" / "summary.json").unlink()
    with pytest.raises(ConfigError, match="init stages form a loop"):
        train_recipe(tune, host)
