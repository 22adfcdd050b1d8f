"""Training logs: step, evaluation and epoch rows in metrics.jsonl, `sciformer plot`, the guarded
TensorBoard output, and the progress bar on a terminal."""

from __future__ import annotations

import io
import json
import sys
import types

import pytest
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError
from sciformer.training.curves import curve_panels
from sciformer.training.metrics import read_metrics
from sciformer.training.recipe import train_recipe

TRAINING = {"max_steps": 6, "batch_size": 1, "eval_every": None, "warmup_steps": 0}


def test_step_evaluation_and_epoch_rows(host, tmp_path, write_recipe) -> None:
    """Two records, batch 1: two steps per epoch, an epoch row (mean of its steps) and a validation per epoch."""
    result = train_recipe(write_recipe(tmp_path, training=TRAINING), host)
    rows = read_metrics(result.output / "metrics.jsonl")
    assert [(r["split"], r["step"]) for r in rows][:4] == [("train", 1), ("train", 2), ("epoch", 2), ("valid", 2)]
    epochs = [r for r in rows if r["split"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [0, 1, 2] and all(r["steps"] == 2 for r in epochs)
    train = [r["loss"] for r in rows if r["split"] == "train"]
    assert epochs[0]["loss"] == pytest.approx((train[0] + train[1]) / 2)


def test_plot_command_draws_every_quantity(host, tmp_path, write_recipe) -> None:
    result = train_recipe(write_recipe(tmp_path, training=TRAINING), host)
    metrics = result.output / "metrics.jsonl"
    panels = curve_panels([("run", read_metrics(metrics))])
    assert next(iter(panels)) == "loss" and {"accuracy", "lr", "grad_norm"} <= set(panels)
    assert {label for label, _, _ in panels["loss"]} == {"train", "epoch", "valid"}
    out = tmp_path / "curves.png"
    outcome = CliRunner().invoke(build_cli(host), ["plot", str(metrics), str(metrics), "--out", str(out)], obj=host)
    assert outcome.exit_code == 0, outcome.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = CliRunner().invoke(build_cli(host), ["plot", str(tmp_path / "none.jsonl"), "--out", str(out)], obj=host)
    assert missing.exit_code == 1 and "metrics file not found" in missing.output


def test_tensorboard_is_optional_and_guarded(host, tmp_path, write_recipe, monkeypatch) -> None:
    """Without the package: a clear error before training. With one (a stand-in module): the scalars go to it."""
    recipe = write_recipe(tmp_path, training={**TRAINING, "tensorboard": True})
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as when tensorboard is not installed
    with pytest.raises(ConfigError, match="training.tensorboard is true but TensorBoard cannot be imported"):
        train_recipe(recipe, host)

    written: list[tuple[str, float, int]] = []

    class SummaryWriter:
        def __init__(self, log_dir: str, purge_step: int | None = None) -> None:
            self.log_dir = log_dir

        def add_scalar(self, tag: str, value: float, step: int) -> None:
            written.append((tag, value, step))

        def close(self) -> None:
            written.append(("closed", 0.0, 0))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=SummaryWriter))
    result = train_recipe(recipe, host)
    rows = read_metrics(result.output / "metrics.jsonl")
    first = rows[0]
    assert ("train/loss", first["loss"], 1) in written and ("train/lr", first["lr"], 1) in written
    assert any(tag == "valid/accuracy" for tag, _, _ in written) and written[-1][0] == "closed"
    assert json.loads((result.output / "summary.json").read_text())["steps"] == 6


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only(host, tmp_path, write_recipe, monkeypatch) -> None:
    """On a terminal: step, loss, learning rate, throughput and the last validation metric; in batch logs nothing."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    train_recipe(write_recipe(tmp_path / "terminal", training=TRAINING), host)
    shown = terminal.getvalue()
    for part in ("step 6/6", "loss ", "lr ", " records/s", "valid loss "):
        assert part in shown, shown[-500:]
    batch = io.StringIO()
    monkeypatch.setattr(sys, "stderr", batch)
    train_recipe(write_recipe(tmp_path / "batch", training=TRAINING), host)
    assert "step" not in batch.getvalue() and "records/s" not in batch.getvalue()
