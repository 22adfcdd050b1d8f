"""Contrastive training across domains with the built-in text domain on both sides: the three paired
input layouts, the symmetric InfoNCE loss, recall@k against its exact random baseline, zero-shot
classification, the saved model and the command line."""

from __future__ import annotations

import csv
import json
import math

import h5py
import pytest
import torch
import yaml
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.contrastive.model import ContrastiveModel, info_nce
from sciformer.contrastive.pairs import Side, read_pairs
from sciformer.contrastive.retrieval import random_hit_rate, recall_at_k
from sciformer.contrastive.training import load_contrastive, load_contrastive_recipe
from sciformer.errors import ConfigError

WHO = ["man", "woman", "child", "cook"]
DISHES = ["chicken", "beef", "soup", "rice", "fish", "bread"]
SIDES = (Side("text", {"data_column": "order", "id_column": "id"}), Side("text", {"data_column": "dish", "id_column": "id"}))


@pytest.fixture
def orders(tmp_path):
    """48 orders (sentence -> the dish ordered, as a one-word caption) in one CSV."""
    path = tmp_path / "orders.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "order", "dish"])
        for i, (who, dish) in enumerate((w, d) for w in WHO for d in DISHES for _ in range(2)):
            polite = "please " if i % 2 else ""
            writer.writerow([f"o{i}", f"the {who} {polite}ordered the {dish}", dish])
    return path


def test_three_input_layouts_give_the_same_pairs(host, tmp_path, orders) -> None:
    aligned = read_pairs({"file": orders}, *SIDES, host)
    rows = list(csv.DictReader(open(orders)))  # noqa: SIM115
    with h5py.File(tmp_path / "pairs.h5", "w") as handle:
        handle["order"] = [r["order"].encode() for r in rows]
        handle["dish"] = [r["dish"].encode() for r in rows]
        handle["id"] = [r["id"].encode() for r in rows]
    hdf5 = read_pairs({"file": tmp_path / "pairs.h5", "datasets": ["order", "dish"], "ids": "id"}, *SIDES, host)
    with open(tmp_path / "pairs.csv", "w") as handle:
        handle.write("order_id,dish_id\n" + "".join(f"{r['id']},{r['id']}\n" for r in reversed(rows)))
    table = read_pairs({"left": orders, "right": orders, "pairs": tmp_path / "pairs.csv", "columns": ["order_id", "dish_id"]}, *SIDES, host)
    expected = [(r["order"], r["dish"]) for r in rows]
    assert [(a.data, b.data) for a, b in zip(aligned.left, aligned.right)] == expected
    assert [(a.data, b.data) for a, b in zip(hdf5.left, hdf5.right)] == expected and hdf5.left[0].id == "o0"
    assert [(a.data, b.data) for a, b in zip(table.left, table.right)] == expected[::-1]
    assert len(set(aligned.keys("right"))) == len(DISHES), "equal captions are one item"
    with pytest.raises(ConfigError, match="two datasets"):
        read_pairs({"file": tmp_path / "pairs.h5", "datasets": ["order"]}, *SIDES, host)


def test_info_nce_is_clip_loss_and_shares_equal_captions() -> None:
    logits = torch.tensor([[5.0, 1.0, 0.0], [0.5, 4.0, 0.2], [0.1, 0.3, 3.0]])
    clip = (torch.nn.functional.cross_entropy(logits, torch.arange(3)) + torch.nn.functional.cross_entropy(logits.T, torch.arange(3))) / 2
    assert info_nce(logits) == pytest.approx(float(clip))
    together, apart, same = torch.full((2, 2), 2.0), torch.tensor([[5.0, 0.0], [0.0, 5.0]]), torch.tensor([0, 0])
    assert info_nce(together, keys=same) < info_nce(apart, keys=same), "two rows with one caption are not pushed apart"
    assert info_nce(together) > info_nce(apart), "without keys every other row is a negative"


def test_recall_at_k_and_its_random_baseline() -> None:
    assert random_hit_rate(10, 1, 3) == pytest.approx(0.3)
    assert random_hit_rate(4, 2, 1) == pytest.approx(0.5) and random_hit_rate(4, 2, 3) == 1.0
    queries = torch.eye(3)  # query i is nearest to item i
    result = recall_at_k(queries, ["a", "b", "c"], torch.eye(3)[[1, 0, 2]], ["x", "y", "z"], "left_to_right", ks=(1, 2))
    assert result.recall == {1: pytest.approx(1 / 3), 2: 1.0} and result.random[1] == pytest.approx(1 / 3)


def test_train_retrieve_and_classify_zero_shot(host, tmp_path, orders) -> None:
    recipe = {
        "left": {"domain": "text", "model": {"dim": 16, "depth": 1, "heads": 2, "max_positions": 8}, "options": {"data_column": "order", "id_column": "id"}},
        "right": {"domain": "text", "model": {"dim": 16, "depth": 1, "heads": 2, "max_positions": 8}, "options": {"data_column": "dish", "id_column": "id"}},
        "projection_dim": 16,
        "recall_at": [1, 3],
        "data": {"file": str(orders), "split": {"valid": 0.25, "test": 0.25, "seed": 0}},
        "training": {"max_steps": 80, "batch_size": 8, "lr": 0.01, "warmup_steps": 5, "eval_every": 40, "metric": "left_to_right_recall@1", "mode": "max"},
        "output": "run",
    }
    (tmp_path / "clip.yaml").write_text(yaml.safe_dump(recipe))
    cli, runner = build_cli(host), CliRunner()
    trained = runner.invoke(cli, ["contrastive", "train", str(tmp_path / "clip.yaml")], obj=host)
    assert trained.exit_code == 0, trained.output
    test = json.loads(trained.output)["test"]
    assert test["left_to_right_recall@1"] > test["left_to_right_random@1"] + 0.3
    assert test["zero_shot_accuracy"] > test["zero_shot_majority"]
    model, meta = load_contrastive(tmp_path / "run", host)
    assert isinstance(model, ContrastiveModel) and meta["labels"] == sorted(DISHES)
    with torch.no_grad():
        assert 1.0 <= float(model.scale()) <= 100.0 and math.isfinite(float(model.logit_scale))
    evaluated = runner.invoke(cli, ["contrastive", "evaluate", "--model", str(tmp_path / "run"), "--file", str(orders), "--k", "1"], obj=host)
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["pairs"] == 48
    labelled = tmp_path / "to-label.csv"
    labelled.write_text("id,order,dish\nq1,the cook ordered the soup,soup\nq2,the man please ordered the fish,fish\n")
    classified = runner.invoke(cli, ["contrastive", "classify", "--model", str(tmp_path / "run"), "--input", str(labelled), "--option", "target_column=dish"], obj=host)
    assert classified.exit_code == 0, classified.output
    assert "zero-shot accuracy" in classified.output and classified.output.count("\t") == 4


def test_recipe_errors_are_clear(tmp_path) -> None:
    (tmp_path / "r.yaml").write_text("left: {domain: text}\nright: {domain: text, colour: red}\noutput: out\n")
    with pytest.raises(ConfigError, match=r"unknown right setting\(s\) \['colour'\]"):
        load_contrastive_recipe(tmp_path / "r.yaml")
    (tmp_path / "r.yaml").write_text("left: {domain: text}\nright: {domain: text}\noutput: out\ntraining: {fsdp: true}\n")
    with pytest.raises(ConfigError, match="training.fsdp is not available for contrastive training"):
        load_contrastive_recipe(tmp_path / "r.yaml")
