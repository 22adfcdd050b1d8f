"""The trainer: the toy task through the real path, exact resume, accumulation, early stopping, bfloat16."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from sciformer.checkpoint import load_checkpoint
from sciformer.errors import ConfigError, OutputError, TrainingDiverged
from sciformer.records import Record
from sciformer.scoring.lock import OutputLock
from sciformer.training import trainer as trainer_module
from sciformer.training.recipe import load_recipe, split_records, train_recipe

TEXT_PLUGIN_DATA = Path(__file__).resolve().parents[1] / "core/sciformer/builtin/text/data"


def test_who_ordered_what(host, tmp_path, write_recipe) -> None:
    """One layer, one head, causal: predicts the dish from who ordered, and attends back to them."""
    result = train_recipe(write_recipe(tmp_path), host)
    model = load_checkpoint(result.output, host)
    tokenizer = host.tokenizer(model.config)
    for who, dish, other in (("man", "chicken", "beef"), ("woman", "beef", "chicken")):
        batch = tokenizer([Record(who, f"<start> {who} ordered the")])
        with torch.inference_mode():
            output = model(batch, need_weights=True)
        probabilities = output.prediction[0, -1].softmax(-1)
        words = tokenizer.tokens(range(tokenizer.vocab_size))
        assert words[int(probabilities.argmax())] == dish
        assert float(probabilities[words.index(dish)]) > 0.9 > float(probabilities[words.index(other)])
        row = output.attentions[0][0, 0, -1]  # the row of "the" in the only layer and head
        assert float(row[1]) > float(row[0]), f"attention on {who!r} must exceed attention on <start>"
    metrics = [json.loads(line) for line in (result.output / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if m["split"] == "train"]
    assert losses[-1] < 0.5 * losses[0]
    assert json.loads((result.output / "summary.json").read_text())["valid"]["accuracy"] == pytest.approx(7 / 8)


def test_resume_after_interruption_continues_the_same_curve(host, tmp_path, monkeypatch, write_recipe) -> None:
    """A run stopped after its step-20 state and resumed ends with the same weights and metrics."""
    training = {"max_steps": 40, "eval_every": 10, "keep_state": True, "weight_decay": 0.01}
    model_cfg = {"dropout": 0.1}
    full = train_recipe(write_recipe(tmp_path / "a", training=training, model=model_cfg), host)

    original_log = trainer_module.Trainer._log

    def crash_at_step_25(self, row):
        if row["split"] == "train" and row["step"] == 25:
            raise KeyboardInterrupt("simulated kill")
        original_log(self, row)

    recipe_b = write_recipe(tmp_path / "b", training=training, model=model_cfg)
    monkeypatch.setattr(trainer_module.Trainer, "_log", crash_at_step_25)
    with pytest.raises(KeyboardInterrupt):
        train_recipe(recipe_b, host)
    monkeypatch.setattr(trainer_module.Trainer, "_log", original_log)
    with pytest.raises(ConfigError, match=r"cannot resume .*: changed since the run began: recipe.training.lr \(0.01 -> 0.02\); train again without --resume"):
        train_recipe(recipe_b, host, ["training.lr=0.02"], resume=True)
    resumed = train_recipe(recipe_b, host, resume=True)
    a, b = load_file(str(full.output / "model.safetensors")), load_file(str(resumed.output / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (full.output / "metrics.jsonl").read_text() == (resumed.output / "metrics.jsonl").read_text()


def test_a_resume_on_changed_data_or_a_second_writer_is_refused(host, tmp_path, monkeypatch, write_recipe) -> None:
    """The data file of a stopped run edited, then `--resume`: one line naming the split; a second run into an
    output another run holds: one line naming the holder."""
    orders = tmp_path / "orders.txt"
    orders.write_text((TEXT_PLUGIN_DATA / "orders.txt").read_text())
    recipe = write_recipe(tmp_path / "c", training={"max_steps": 20, "eval_every": 10}, data={"train": str(orders), "valid": str(orders)})

    def crash(self, *arguments):
        raise KeyboardInterrupt("simulated kill")

    with monkeypatch.context() as patched:
        patched.setattr(trainer_module.Trainer, "_checkpoint", crash)
        with pytest.raises(KeyboardInterrupt):
            train_recipe(recipe, host)
    orders.write_text(orders.read_text().replace("chicken", "beef"))
    with pytest.raises(ConfigError, match=r"changed since the run began: data.train \(its contents changed\), data.valid \(its contents changed\); train again without --resume"):
        train_recipe(recipe, host, resume=True)
    holder = OutputLock(tmp_path / "c" / "run", advice="choose another output")
    with holder, pytest.raises(OutputError, match=r"run is being written by another run \(pid \d+ .*\); wait for it to finish or choose another output"):
        train_recipe(recipe, host)
    assert train_recipe(recipe, host).steps == 20  # starting over is always allowed


def _sentence_recipe(folder: Path) -> Path:
    """16 sentences (12 to train: 3 optimizer steps an epoch), dropout, accumulation, weight decay and a moving average."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"<start> the {w} ordered the {d}" + (" again" if (i + j) % 3 == 0 else "") for i, w in enumerate(["man", "woman", "child", "cook"])
             for j, d in enumerate(["chicken", "beef", "soup", "rice"])]
    (folder / "orders.txt").write_text("\n".join(lines) + "\n")
    recipe = {
        "model": {"domain": "text", "task": "clm", "causal": True, "dim": 16, "depth": 2, "heads": 2, "dropout": 0.1, "max_positions": 16},
        "data": {"train": "orders.txt", "split": {"valid": 0.25, "seed": 0}},
        "training": {"max_steps": 14, "batch_size": 2, "accumulate": 2, "lr": 0.01, "warmup_steps": 2, "eval_every": 4, "weight_decay": 0.01, "ema": 0.9,
                     "keep_state": True},
        "output": "run",
    }
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return folder / "recipe.yaml"


def test_resume_after_a_real_sigkill_is_exact(tmp_path) -> None:
    """`sciformer train` killed with SIGKILL once the state of step 8 (mid-epoch) is saved, then resumed: the
    same best and final weights, optimizer moments, moving average, loop state, metrics and summary as an
    uninterrupted run, bit for bit."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "SCIFORMER_PLUGINS": ""}
    train = [sys.executable, "-m", "sciformer", "train", "recipe.yaml"]
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(train, cwd=_sentence_recipe(full).parent, env=environment, check=True, capture_output=True, timeout=300)
    _sentence_recipe(killed)
    run = subprocess.Popen(train, cwd=killed, env={**environment, "SCIFORMER_PAUSE_AFTER_STEP": "8"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = iter(run.stderr.readline, "")
        assert any(line.startswith("sciformer: paused after step 8") for line in lines), "the run ended without pausing"
        run.send_signal(signal.SIGKILL)
        assert run.wait(timeout=60) == -signal.SIGKILL
    finally:
        run.kill()
        run.stderr.close()
    progress = json.loads((killed / "run/state/trainer.json").read_text())["progress"]
    assert (progress["step"], progress["epoch"], progress["batch"]) == (8, 2, 4)
    subprocess.run([*train, "--resume"], cwd=killed, env=environment, check=True, capture_output=True, timeout=300)
    for name in ("model.safetensors", "state/model.safetensors", "state/trainer.safetensors", "state/ema.safetensors"):
        a, b = load_file(str(full / "run" / name)), load_file(str(killed / "run" / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    for name in ("metrics.jsonl", "state/trainer.json", "config.json"):
        assert (full / "run" / name).read_text() == (killed / "run" / name).read_text(), name
    first, second = ({k: v for k, v in json.loads((folder / "run/summary.json").read_text()).items() if k != "seconds"} for folder in (full, killed))
    assert first == second


def test_a_diverging_run_stops_without_writing_a_model(host, tmp_path, write_recipe) -> None:
    """A learning rate of 1e30 makes the loss NaN within a few steps: one line naming the step, no model saved."""
    recipe = write_recipe(tmp_path, training={"max_steps": 30, "eval_every": 5, "lr": 1e30, "warmup_steps": 0})
    with pytest.raises(TrainingDiverged, match=r"^the training loss is nan at step \d+: the run diverged and stops without writing a model; lower training.lr"):
        train_recipe(recipe, host)
    assert not (tmp_path / "run" / "model.safetensors").exists() and not (tmp_path / "run" / "summary.json").exists()


def test_accumulation_bfloat16_and_early_stopping(host, tmp_path, write_recipe) -> None:
    training = {"max_steps": 200, "eval_every": 5, "patience": 2, "accumulate": 2, "batch_size": 1, "dtype": "bfloat16", "lr": 0.05}
    result = train_recipe(write_recipe(tmp_path, training=training), host)
    assert result.steps < 200, "early stopping must end the run"
    assert result.best_step <= result.steps - 2 * 5
    rows = [json.loads(line) for line in (result.output / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in rows)


def test_recipe_errors_are_clear(tmp_path) -> None:
    (tmp_path / "r.yaml").write_text("model: {domain: text}\ndata: {train: x.txt}\noutput: out\ntraining: {lr: -1}\n")
    with pytest.raises(ConfigError, match="training.lr must be positive"):
        load_recipe(tmp_path / "r.yaml")
    with pytest.raises(ConfigError, match=r"unknown training setting\(s\) \['learning_rate'\]"):
        load_recipe(tmp_path / "r.yaml", ["training.learning_rate=0.1"])
    recipe = load_recipe(tmp_path / "r.yaml", ["training.lr=0.5", "training.epochs=3"])
    assert (recipe.training.lr, recipe.training.epochs) == (0.5, 3)
    assert recipe.data["train"] == (tmp_path / "x.txt").resolve()


def test_split_is_seeded_and_disjoint() -> None:
    records = [Record(str(i), "w") for i in range(100)]
    first, again = split_records(records, {"valid": 0.1, "test": 0.2}, 7), split_records(records, {"valid": 0.1, "test": 0.2}, 7)
    assert [r.id for r in first["test"]] == [r.id for r in again["test"]]
    assert (len(first["train"]), len(first["valid"]), len(first["test"])) == (70, 10, 20)
    ids = [r.id for part in first.values() for r in part]
    assert sorted(ids) == sorted(r.id for r in records)


def test_classification_fine_tuning_from_a_checkpoint(host, tmp_path, write_recipe) -> None:
    """init: a pretrained causal model; the classification head starts fresh and learns the labels."""
    table = tmp_path / "labels.csv"
    rows = ["text,label"] + ["<start> man ordered the chicken,meat-a" for _ in range(4)] + ["<start> woman ordered the beef,meat-b" for _ in range(4)]
    table.write_text("\n".join(rows) + "\n")
    recipe = write_recipe(tmp_path, training={"max_steps": 30, "eval_every": 10})
    raw = yaml.safe_load(recipe.read_text())
    raw.update(init="text-who-ordered", data={"train": str(table), "valid": str(table), "options": {"target_column": "label"}})
    raw["model"] = {"domain": "text", "task": "sequence-classification", "causal": False}
    recipe.write_text(yaml.safe_dump(raw))
    result = train_recipe(recipe, host)
    model = load_checkpoint(result.output, host)
    assert model.config.labels == ("meat-a", "meat-b") and result.valid["accuracy"] == 1.0
