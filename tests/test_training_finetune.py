"""Fine-tuning with `init:` onto a table with other labels: the labels come from the training data, the
head is re-initialised with one log line, and every other tensor starts as the init model's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from sciformer.checkpoint import load_checkpoint
from sciformer.training.recipe import build_recipe_model, load_recipe, recipe_records, train_recipe

DISHES = ["text,label"] + ["the man ordered the chicken,chicken", "the woman ordered the beef,beef"] * 2
LETTERS = ["text,label", "the man ordered,a", "the woman ordered,b", "the man ate,c", "the woman ate,a"]
CHICKEN_ONLY = ["text,label", "the man ordered the chicken,chicken", "the man ate the chicken,chicken"]


def write(folder: Path, name: str, rows: list[str], init: str | None = None) -> Path:
    """A classification recipe on a table of `rows` (a small new model, or one fine-tuned from `init`)."""
    table = folder / f"{name}.csv"
    table.write_text("\n".join(rows) + "\n")
    model = {"domain": "text", "task": "sequence-classification"}
    if init is None:
        model.update(dim=16, depth=1, heads=2, max_positions=16)
    recipe = {
        "model": model,
        "init": init,
        "data": {"train": str(table), "valid": str(table), "options": {"target_column": "label"}},
        "training": {"max_steps": 3, "batch_size": 2, "metric": "accuracy"},
        "output": str(folder / name),
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture
def dishes_model(host, tmp_path) -> Path:
    """A tiny classifier of {chicken, beef}."""
    return train_recipe(write(tmp_path, "dishes", DISHES), host).output


def test_other_labels_reinitialise_only_the_head(host, tmp_path, dishes_model, caplog) -> None:
    recipe = load_recipe(write(tmp_path, "letters", LETTERS, init=str(dishes_model)))
    with caplog.at_level(logging.INFO, logger="sciformer.training.recipe"):
        model = build_recipe_model(recipe, host, recipe_records(recipe, host, "text")["train"])
    assert model.config.labels == ("a", "b", "c") and model.config.num_labels == 3
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1 and caplog.records[0].levelno == logging.WARNING
    assert "labels (beef, chicken)" in lines[0] and "-> (a, b, c)" in lines[0] and "head." in lines[0]
    init = load_file(str(dishes_model / "model.safetensors"))
    own = model.state_dict()
    body = [name for name in own if not name.startswith("head.")]
    assert body and all(torch.equal(own[name], init[name]) for name in body)
    head = [name for name in own if name.startswith("head.")]
    assert head and all(own[name].shape[0] == 3 and init[name].shape[0] == 2 for name in head)

    result = train_recipe(recipe.source, host)
    assert load_checkpoint(result.output, host).config.labels == ("a", "b", "c") and result.steps == 3


def test_as_many_other_labels_still_reinitialise_the_head(host, tmp_path, dishes_model, caplog) -> None:
    """Two other labels fit the head's shape, but not its meaning: it starts fresh all the same."""
    rows = ["text,label", "the man ordered,x", "the woman ordered,y"]
    recipe = load_recipe(write(tmp_path, "xy", rows, init=str(dishes_model)))
    with caplog.at_level(logging.INFO, logger="sciformer.training.recipe"):
        torch.manual_seed(0)
        model = build_recipe_model(recipe, host, recipe_records(recipe, host, "text")["train"])
    assert model.config.labels == ("x", "y") and "-> (x, y)" in caplog.records[0].getMessage()
    init = load_file(str(dishes_model / "model.safetensors"))
    head = [name for name in model.state_dict() if name.startswith("head.")]
    assert head and not any(torch.equal(model.state_dict()[name], init[name]) for name in head)


def test_labels_within_the_init_models_keep_its_head(host, tmp_path, dishes_model, caplog) -> None:
    """Training data with a part of the init model's classes keeps its labels, and its head."""
    recipe = load_recipe(write(tmp_path, "chicken", CHICKEN_ONLY, init=str(dishes_model)))
    with caplog.at_level(logging.INFO, logger="sciformer.training.recipe"):
        model = build_recipe_model(recipe, host, recipe_records(recipe, host, "text")["train"])
    assert model.config.labels == ("beef", "chicken") and not caplog.records
    init = load_file(str(dishes_model / "model.safetensors"))
    assert all(torch.equal(value, init[name]) for name, value in model.state_dict().items())
