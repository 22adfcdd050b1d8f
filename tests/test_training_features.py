"""Trainer options: whole-split metrics (ROC-AUC), label smoothing, class-balanced weights, a moving
average of the weights, domain augmentations, and resuming with them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import sciformer
import torch
import torch.nn.functional as F
import yaml
from safetensors.torch import load_file
from sciformer.augmentation import Augmentation, BatchTransform, augmented, available_augmentations, build_augmentations
from sciformer.builtin.text import TextDomain
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.domain import Domain
from sciformer.engine.heads import IGNORE_INDEX, SequenceHead, TokenClassificationHead
from sciformer.errors import ConfigError
from sciformer.training import trainer as trainer_module
from sciformer.training.config import TrainingConfig
from sciformer.training.ema import WeightAverage
from sciformer.training.loss_settings import balanced_class_weights, check_loss_options
from sciformer.training.ranking import ranking_metrics, roc_auc
from sciformer.training.recipe import train_recipe


def pairwise_auc(scores: list[float], labels: list[int]) -> float:
    """ROC-AUC by counting every (positive, negative) pair: 1 when ordered right, 1/2 when tied."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


def test_roc_auc_matches_counting_pairs_with_ties() -> None:
    generator = torch.Generator().manual_seed(0)
    scores = (torch.rand(200, generator=generator) * 10).round() / 10  # many ties
    labels = (torch.rand(200, generator=generator) < scores * 0.8).long()
    probabilities = torch.stack([1 - scores, scores], dim=1)
    assert roc_auc(probabilities, labels) == pytest.approx(pairwise_auc(scores.tolist(), labels.tolist()), abs=1e-12)
    metrics = ranking_metrics(probabilities, labels)
    predicted = probabilities.argmax(1)
    recalls = [float((predicted[labels == k] == k).double().mean()) for k in (0, 1)]
    assert metrics["balanced_accuracy"] == pytest.approx(sum(recalls) / 2)
    assert "roc_auc" not in ranking_metrics(probabilities[labels == 1], labels[labels == 1])


def test_multiclass_roc_auc_is_the_mean_one_vs_rest_area() -> None:
    generator = torch.Generator().manual_seed(1)
    probabilities = torch.rand(90, 3, generator=generator).softmax(1)
    labels = torch.randint(0, 3, (90,), generator=generator)
    expected = sum(pairwise_auc(probabilities[:, k].tolist(), (labels == k).long().tolist()) for k in range(3)) / 3
    assert roc_auc(probabilities, labels) == pytest.approx(expected, abs=1e-12)


def test_balanced_class_weights_and_label_smoothing_change_only_the_training_loss() -> None:
    weights = balanced_class_weights([torch.tensor([0, 0, 1]), torch.tensor([[0, IGNORE_INDEX]])], 3)
    assert weights.tolist() == pytest.approx([4 / (2 * 3), 4 / (2 * 1), 1.0])
    head = SequenceHead(ModelConfig(domain="text", dim=8, num_labels=3, task="sequence-classification"), regression=False)
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    batch = TokenBatch(padding_mask=torch.ones(4, 2, dtype=torch.bool), record_ids=list("abcd"), targets=torch.tensor([0, 1, 1, 2]))
    plain_loss = head.loss(logits, batch)
    plain_eval = head.evaluate(logits, batch)
    head.configure_loss(label_smoothing=0.2, class_weights=weights)
    expected = F.cross_entropy(logits, batch.targets, weight=weights, label_smoothing=0.2)
    assert torch.allclose(head.loss(logits, batch), expected) and not torch.allclose(expected, plain_loss)
    assert head.evaluate(logits, batch) == plain_eval, "validation metrics use the plain loss"


def test_loss_options_a_head_ignores_are_refused() -> None:
    regression = SequenceHead(ModelConfig(domain="text", dim=8, num_labels=1, task="sequence-regression"), regression=True)
    with pytest.raises(ConfigError, match="training.label_smoothing does not apply to the SequenceHead"):
        check_loss_options(regression, TrainingConfig(label_smoothing=0.1))
    token = TokenClassificationHead(ModelConfig(domain="text", dim=8, num_labels=3, task="token-classification"))
    check_loss_options(token, TrainingConfig(label_smoothing=0.1, class_weights="balanced"))
    with pytest.raises(ConfigError, match="class_weights must be balanced or null"):
        TrainingConfig(class_weights="inverse")
    with pytest.raises(ConfigError, match="training.ema must lie in"):
        TrainingConfig(ema=1.0)


def test_rollout_is_refused_where_predictions_cannot_be_fed_back(host, text_config, tmp_path) -> None:
    from sciformer.build import build_model

    model = build_model(replace(text_config, task="clm", causal=True), host)
    with pytest.raises(ConfigError, match="domain 'text' cannot feed its predictions back"):
        trainer_module.Trainer(model, host.domain("text").tokenizer(model.config), host, TrainingConfig(rollout_steps=2), tmp_path)
    with pytest.raises(ConfigError, match="training.rollout_steps must be at least 1"):
        TrainingConfig(rollout_steps=0)


def test_weight_average_moves_towards_the_weights_and_is_applied_only_inside_its_block() -> None:
    layer = torch.nn.Linear(2, 2)
    start = layer.weight.detach().clone()
    average = WeightAverage(layer, decay=0.5)
    with torch.no_grad():
        layer.weight.add_(1.0)
    average.update(layer, step=100)  # past the warm-up: the decay is 0.5
    trained = layer.weight.detach().clone()
    with average.applied(layer):
        assert torch.allclose(layer.weight, start + 0.5)
    assert torch.equal(layer.weight, trained)
    average.update(layer, step=0)  # warm-up: decay min(0.5, 1 / 10)
    assert torch.allclose(average.average[0], (start + 0.5) * 0.1 + trained * 0.9)


class ScaledText(TextDomain):
    """A test domain: the text domain with one augmentation, multiplying the token ids by a setting."""

    name = "scaled-text"

    def augmentations(self, config: ModelConfig) -> list[Augmentation]:
        def build(factor: int = 2) -> BatchTransform:
            return lambda batch, generator: replace(batch, ids=batch.ids * factor)

        return [Augmentation("times", "multiply ids", build)]


class ScaledTextPlugin:
    @sciformer.hookimpl
    def sciformer_domains(self) -> list[Domain]:
        return [ScaledText()]


def test_augmentations_are_found_built_and_named(host) -> None:
    with pytest.raises(ConfigError, match="no augmentation 'times' for domain 'text'; available: none"):
        build_augmentations(host, ModelConfig(domain="text"), {"times": {}})
    host.pm.register(ScaledTextPlugin(), name="scaled")
    config = ModelConfig(domain="scaled-text")
    assert list(available_augmentations(host, config)) == ["times"]
    with pytest.raises(ConfigError, match=r"no augmentation 'flip' for domain 'scaled-text'; available: \['times'\]"):
        build_augmentations(host, config, {"flip": {}})
    with pytest.raises(ConfigError, match="training.augment.times: got an unexpected keyword argument 'scale'"):
        build_augmentations(host, config, {"times": {"scale": 2}})
    transforms = build_augmentations(host, config, {"times": {"factor": 3}})
    batch = TokenBatch(padding_mask=torch.ones(1, 2, dtype=torch.bool), record_ids=["a"], ids=torch.tensor([[1, 2]]))
    assert augmented(batch, transforms, torch.Generator()).ids.tolist() == [[3, 6]]


def labelled_recipe(tmp_path: Path, write_recipe: Callable[..., Path], training: dict) -> Path:
    """The who-ordered recipe as an unbalanced two-class classification (6 : 2)."""
    recipe = write_recipe(tmp_path, training=training)
    table = tmp_path / "labels.csv"
    rows = ["text,label"] + ["<start> man ordered the chicken,meat-a"] * 6 + ["<start> woman ordered the beef,meat-b"] * 2
    table.write_text("\n".join(rows) + "\n")
    raw = yaml.safe_load(recipe.read_text())
    raw["data"] = {"train": str(table), "valid": str(table), "options": {"target_column": "label"}}
    raw["model"] = {"domain": "text", "task": "sequence-classification", "causal": False, "dropout": 0.1}
    recipe.write_text(yaml.safe_dump(raw))
    return recipe


def test_a_run_selects_by_roc_auc_with_every_option_and_resumes_exactly(host, tmp_path, monkeypatch, write_recipe) -> None:
    training = {"max_steps": 24, "eval_every": 6, "keep_state": True, "metric": "roc_auc", "label_smoothing": 0.1, "class_weights": "balanced", "ema": 0.9, "batch_size": 4}
    full = train_recipe(labelled_recipe(tmp_path / "a", write_recipe, training), host)
    summary = json.loads((full.output / "summary.json").read_text())
    assert set(summary["valid"]) >= {"roc_auc", "balanced_accuracy", "accuracy", "loss"}
    valid_rows = [json.loads(line) for line in (full.output / "metrics.jsonl").read_text().splitlines() if '"valid"' in line]
    assert summary["valid"]["roc_auc"] == max(row["roc_auc"] for row in valid_rows)
    assert (full.output / "state" / "ema.safetensors").is_file()
    raw, averaged = load_file(str(full.output / "state" / "model.safetensors")), load_file(str(full.output / "model.safetensors"))
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw), "the checkpoint holds the average, not the raw weights"

    original_log = trainer_module.Trainer._log

    def crash_at_step_15(self, row):
        if row["split"] == "train" and row["step"] == 15:
            raise KeyboardInterrupt("simulated kill")
        original_log(self, row)

    recipe_b = labelled_recipe(tmp_path / "b", write_recipe, training)
    monkeypatch.setattr(trainer_module.Trainer, "_log", crash_at_step_15)
    with pytest.raises(KeyboardInterrupt):
        train_recipe(recipe_b, host)
    monkeypatch.setattr(trainer_module.Trainer, "_log", original_log)
    resumed = train_recipe(recipe_b, host, resume=True)
    b = load_file(str(resumed.output / "model.safetensors"))
    assert all(torch.equal(averaged[k], b[k]) for k in averaged)
    assert (full.output / "metrics.jsonl").read_text() == (resumed.output / "metrics.jsonl").read_text()


def test_regression_recipes_refuse_label_smoothing_before_training(host, tmp_path, write_recipe) -> None:
    recipe = write_recipe(tmp_path, training={"label_smoothing": 0.1})
    with pytest.raises(ConfigError, match="label_smoothing does not apply"):
        train_recipe(recipe, host)


def test_roc_auc_selection_on_a_one_class_validation_split_says_why(host, tmp_path, write_recipe) -> None:
    recipe = labelled_recipe(tmp_path, write_recipe, {"max_steps": 2, "metric": "roc_auc"})
    raw = yaml.safe_load(recipe.read_text())
    valid = tmp_path / "valid.csv"
    valid.write_text("text,label\n<start> man ordered the chicken,meat-a\n")
    raw["data"]["valid"] = str(valid)
    recipe.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"training.metric 'roc_auc' is not reported \(ROC-AUC needs labelled records of at least two classes"):
        train_recipe(recipe, host)
