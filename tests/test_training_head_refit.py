"""`training.refit_head`: the last layer refitted on frozen features after training, chosen on validation."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
import yaml
from sciformer.checkpoint import load_checkpoint
from sciformer.config import ModelConfig
from sciformer.engine.heads import SequenceHead
from sciformer.errors import ConfigError
from sciformer.linear_probe import fit_softmax
from sciformer.reading import read_records
from sciformer.training.config import TrainingConfig
from sciformer.training.head_refit import TRAINED, final_linear, fitted_layer, refit
from sciformer.training.recipe import train_recipe


def blobs(seed: int, count: int = 120) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes of 5-d points around different centres, on features of very different scales."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (count,), generator=generator)
    centres = torch.tensor([[0.0, 0, 0, 0, 0], [2, 0, 1, 0, 0], [0, 2, 0, 1, 0]])
    x = centres[y] + torch.randn(count, 5, generator=generator)
    return x * torch.tensor([1.0, 100.0, 0.01, 1.0, 5.0]) + torch.tensor([0.0, 50.0, 3.0, -2.0, 0.0]), y


def test_a_fitted_layer_applies_to_the_raw_features_as_the_probe_to_standardised_ones() -> None:
    x, y = blobs(0)
    weight, bias = fitted_layer(x, y, 3, 1e-2)
    mean, std = x.mean(dim=0), x.std(dim=0)
    probe = fit_softmax((x - mean) / std, y, 3, 1e-2)
    with torch.no_grad():
        torch.testing.assert_close(x @ weight.T + bias, probe((x - mean) / std), rtol=1e-4, atol=1e-4)


def test_refit_keeps_the_best_candidate_and_the_trained_layer_on_a_tie() -> None:
    x, y = blobs(1)
    held_x, held_y = blobs(2)
    linear = torch.nn.Linear(5, 3)
    trained = linear.weight.detach().clone()
    tie = refit(linear, x, y, lambda: 0.5, higher_is_better=True)
    assert tie.chosen == TRAINED and set(tie.valid) == {TRAINED, "l2=0.0001", "l2=0.001", "l2=0.01", "l2=0.1"}
    assert torch.equal(linear.weight, trained), "a tie leaves the trained layer in place"

    def held_out_loss() -> float:
        with torch.no_grad():
            return float(F.cross_entropy(linear(held_x), held_y))

    result = refit(linear, x, y, held_out_loss, higher_is_better=False)
    assert result.chosen != TRAINED and result.valid[result.chosen] == min(result.valid.values()) < result.valid[TRAINED]
    assert held_out_loss() == result.valid[result.chosen], "the chosen layer is the one left in place"


def test_refit_is_refused_where_it_cannot_apply() -> None:
    regression = SequenceHead(ModelConfig(domain="text", dim=8, num_labels=1, task="sequence-regression"), regression=True)
    with pytest.raises(ConfigError, match="refit_head needs a sequence-classification head"):
        final_linear(regression)
    with pytest.raises(ConfigError, match="refit_head is not supported with training.fsdp"):
        TrainingConfig(refit_head=True, fsdp=True)


def test_a_short_run_keeps_the_refit_that_validates_best_and_saves_it(host, tmp_path, write_recipe) -> None:
    recipe = write_recipe(tmp_path, training={"max_steps": 3, "batch_size": 4, "lr": 1e-4, "metric": "loss", "refit_head": True})
    table = tmp_path / "labels.csv"
    rows = [f"<start> {who} ordered the {dish},{dish}" for who in ("man", "woman", "child", "cook") for dish in ("chicken", "beef", "soup")]
    table.write_text("text,label\n" + "\n".join(rows * 2) + "\n")
    raw = yaml.safe_load(recipe.read_text())
    raw["data"] = {"train": str(table), "valid": str(table), "options": {"target_column": "label"}}
    raw["model"] = {"domain": "text", "task": "sequence-classification", "causal": False}
    recipe.write_text(yaml.safe_dump(raw))
    result = train_recipe(recipe, host)
    summary = json.loads((result.output / "summary.json").read_text())
    refitted = summary["head_refit"]
    assert refitted["chosen"] != TRAINED and refitted["valid"][refitted["chosen"]] == min(refitted["valid"].values()) < refitted["valid"][TRAINED]
    assert summary["valid"]["loss"] == pytest.approx(refitted["valid"][refitted["chosen"]])
    model = load_checkpoint(result.output, host).eval()
    records = list(read_records(host, "text", table, {"target_column": "label"}))
    batch = host.tokenizer(model.config)(records)
    with torch.no_grad():
        loss = F.cross_entropy(model(batch).prediction, batch.targets)
    assert float(loss) == pytest.approx(summary["valid"]["loss"], rel=1e-5), "the saved checkpoint holds the chosen layer"
    raw["data"]["valid"] = None
    recipe.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="refit_head needs validation records"):
        train_recipe(recipe, host)
