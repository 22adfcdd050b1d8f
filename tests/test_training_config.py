"""Recipe settings are checked before anything runs: wrong types and values are one line naming the
key, and the metric decides which checkpoint is best."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError
from sciformer.training.config import TrainingConfig
from sciformer.training.metrics import higher_is_better, read_metrics
from sciformer.training.recipe import load_recipe, train_recipe


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epochs=null", "training.epochs must be a whole number, got null"),
        ("training.max_steps=ten", "training.max_steps must be a whole number or null, got 'ten'"),
        ("training.max_steps=0", "training.max_steps must be at least 1, got 0"),
        ("training.lr=-0.1", "training.lr must be positive and finite, got -0.1"),
        ("training.lr=.inf", "training.lr must be positive and finite, got inf"),
        ("training.lr=.nan", "training.lr must be positive and finite, got nan"),
        ("training.device=gpu", "training.device must be cpu or cuda (cuda:N for one GPU), got 'gpu'"),
        ("training.lr=null", "training.lr must be a number, got null"),
        ("training.batch_size=2.5", "training.batch_size must be a whole number, got 2.5"),
        ("training.warmup_steps=-1", "training.warmup_steps must not be negative, got -1"),
        ("training.weight_decay=-0.5", "training.weight_decay must not be negative, got -0.5"),
        ("training.grad_clip=0", "training.grad_clip must be positive or null"),
        ("training.fsdp=1", "training.fsdp must be true or false, got 1"),
        ("training.patience=0", "training.patience must be at least 1, got 0"),
        ("training=5", "recipe section training must be a mapping of settings, got 5"),
        ("model.dropout=null", "model.dropout must be a number, got null"),
        ("model.domain_options=3", "model.domain_options must be a mapping, got 3"),
        ("model=5", "recipe section model must be a mapping of settings, got 5"),
        ("data.options=5", "data.options must be a mapping of reader options, got 5"),
        ("data.split.valid=abc", "data.split.valid must be a number, got 'abc'"),
        ("data.split={valid: 0.5, test: 0.5}", "data.split fractions must lie in [0, 1) and leave records to train on"),
        ("data.limit=0", "data.limit must be at least 1, got 0"),
        ("data.train_fraction=0", "data.train_fraction must lie in (0, 1], got 0.0"),
        ("data.train_fraction=1.5", "data.train_fraction must lie in (0, 1], got 1.5"),
        ("data.train_fraction=half", "data.train_fraction must be a number, got 'half'"),
    ],
)
def test_bad_overrides_are_one_line_errors(override: str, message: str, host, tmp_path, write_recipe) -> None:
    """`sciformer train --set ...` with a wrong value exits 1 with one line naming the key."""
    recipe = write_recipe(tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_recipe(recipe, [override])
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    outcome = CliRunner().invoke(build_cli(host), ["train", str(recipe), "--set", override], obj=host)
    assert outcome.exit_code == 1 and isinstance(outcome.exception, SystemExit), outcome.output  # no traceback
    assert outcome.output.strip().splitlines()[-1] == f"Error: {raised.value}"


def test_numbers_written_as_text_are_read_as_numbers(tmp_path, write_recipe) -> None:
    """YAML reads `1e-4` (no dot) as text; a number setting takes it as the number it means."""
    recipe = load_recipe(write_recipe(tmp_path), ["training.lr=1e-4", "training.max_steps=3", "training.grad_clip=null"])
    assert (recipe.training.lr, recipe.training.max_steps, recipe.training.grad_clip) == (1e-4, 3, None)


DIRECTIONS = [("loss", "min"), ("rmse", "min"), ("mse", "min"), ("accuracy", "max"), ("left_to_right_recall@5", "max")]


@pytest.mark.parametrize(("metric", "mode"), DIRECTIONS)
def test_the_mode_follows_the_metric(metric: str, mode: str) -> None:
    assert TrainingConfig(metric=metric).mode == mode == TrainingConfig(metric=metric, mode=mode).mode


def test_a_contradicting_or_missing_mode_is_refused() -> None:
    refused = r"^training.mode min contradicts training.metric accuracy \(higher is better\); set mode max or leave it out$"
    with pytest.raises(ConfigError, match=refused):
        TrainingConfig(metric="accuracy", mode="min")
    with pytest.raises(ConfigError, match="training.mode max contradicts training.metric loss"):
        TrainingConfig(mode="max")
    with pytest.raises(ConfigError, match="training.metric 'auroc' has no known direction; set training.mode to min or max"):
        TrainingConfig(metric="auroc")
    assert TrainingConfig(metric="auroc", mode="max").mode == "max" and higher_is_better("auroc") is None


def test_accuracy_keeps_the_best_checkpoint_not_the_worst(host, tmp_path, write_recipe) -> None:
    """`metric: accuracy` alone keeps the checkpoint of highest validation accuracy."""
    training = {"max_steps": 30, "eval_every": 5, "metric": "accuracy"}
    result = train_recipe(write_recipe(tmp_path, training=training), host)
    accuracies = [row["accuracy"] for row in read_metrics(result.output / "metrics.jsonl") if row["split"] == "valid"]
    assert min(accuracies) < max(accuracies), "the run must pass through worse and better checkpoints"
    assert result.valid["accuracy"] == max(accuracies)
