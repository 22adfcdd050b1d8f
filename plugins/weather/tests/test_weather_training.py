"""End to end on the shipped ERA5 hours: train a tiny forecaster from a recipe, evaluate it with rollouts
against persistence and climatology, write forecasts and maps, batch-score it, and fine-tune it on
multi-step rollouts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer.training.config import TrainingConfig
from sciformer.training.recipe import train_recipe
from sciformer.training.trainer import Trainer
from sciformer_weather import EXAMPLE
from sciformer_weather.grid import latitude_weights
from sciformer_weather.rollout import rollout
from sciformer_weather.scoring import CLIMATOLOGY_FILE
from sciformer_weather.stats import Climatology


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, host: PluginHost) -> Path:
    """A tiny AFNO forecaster trained for a few steps on hours 0-31, validated on 32-39, tested on 40-47."""
    folder = tmp_path_factory.mktemp("weather-train")
    for name, (start, stop) in {"train": (0, 32), "valid": (32, 40), "test": (40, 48)}.items():
        (folder / f"{name}.json").write_text(json.dumps({"source": str(EXAMPLE), "start": start, "stop": stop}))
    recipe = {
        "model": {"domain": "weather", "task": "forecast", "dim": 16, "depth": 1, "heads": 2,
                  "domain_options": {"patch": 8, "num_blocks": 2, "residual": True, "time_features": True, "weighted_loss": True}},
        "data": {"train": "train.json", "valid": "valid.json", "test": "test.json", "options": {"lead": 1}},
        "training": {"max_steps": 3, "batch_size": 8, "lr": 1e-3, "seed": 0},
        "output": "model",
    }  # fmt: skip
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    result = train_recipe(folder / "recipe.yaml", host)
    assert result.steps == 3 and set(result.test) >= {"loss", "mse", "rmse"}
    return result.output


def test_trained_checkpoint_stores_what_preprocessing_needs(trained: Path) -> None:
    options = read_checkpoint_info(trained).config.domain_options
    assert options["grid"] == [33, 49] and options["channels"] == ["t2m"] and options["step_hours"] == 1.0
    assert len(options["latitudes"]) == 33 and 270 < options["mean"][0] < 290 and options["std"][0] > 0


def test_evaluate_command_scores_rollouts_against_baselines(trained: Path, host: PluginHost, tmp_path: Path) -> None:
    """Against the shipped model's climatology (21 days per UTC hour: the tiny model's folder has none);
    the output is a `sciformer score` results file whose skill/ means are the printed scores."""
    out, png = tmp_path / "eval.h5", tmp_path / "maps.png"
    climatology = resolve_model("afno-era5-uk-t2m", host) / CLIMATOLOGY_FILE
    args = ["weather", "evaluate", "--model", str(trained), "--input", str(EXAMPLE), "--leads", "1,3", "--period", "32:48",
            "--climatology", str(climatology), "--output", str(out), "--png", str(png), "--json"]  # fmt: skip
    result = CliRunner().invoke(build_cli(host), args, obj=host)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["samples"] == 13 and summary["leads"] == [1, 3]  # initial times 32..44 keep their truth within 32..47
    with h5py.File(out) as handle, h5py.File(EXAMPLE) as source:
        assert handle["forecast"].shape == (13, 2, 1, 33, 49) and handle["truth"].shape == (13, 2, 1, 33, 49)
        fields = source["fields"][:]
        np.testing.assert_array_equal(handle["truth"][0, 1], fields[35])
        assert handle["record_id"].asstr()[0] == "2019-03-26T08:00" and handle["record_id"].asstr()[-1] == "2019-03-26T20:00"
        assert list(handle["skill/samples"][:]) == [13, 13]
        weights = latitude_weights(source["latitude"][:], 33)[:, None]
        persistence = np.mean([np.sqrt((weights * (fields[t] - fields[t + 3]) ** 2).mean()) for t in range(32, 45)])
        assert handle["skill/rmse_persistence"][1, 0] == pytest.approx(persistence, rel=1e-5)
        assert summary["scores"][1]["rmse_persistence"] == handle["skill/rmse_persistence"][1, 0]
        assert handle["skill/acc_climatology"][:].max() == 0.0
        assert np.isfinite(handle["forecast"][:]).all()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(build_cli(host), ["weather", "plot", str(out), "--out", str(tmp_path / "other.png"), "--init", "2", "--lead", "1"], obj=host)
    assert again.exit_code == 0, again.output
    assert (tmp_path / "other.png").stat().st_size > 1000
    refused = CliRunner().invoke(build_cli(host), args, obj=host)
    assert refused.exit_code == 1 and "--overwrite" in refused.output
    replaced = CliRunner().invoke(build_cli(host), [*args[:-3], "--overwrite", "--json"], obj=host)
    assert replaced.exit_code == 0 and json.loads(replaced.output) == summary


def test_evaluate_period_must_leave_room_for_the_longest_lead(trained: Path, host: PluginHost) -> None:
    climatology = resolve_model("afno-era5-uk-t2m", host) / CLIMATOLOGY_FILE
    args = ["weather", "evaluate", "--model", str(trained), "--input", str(EXAMPLE), "--leads", "1,24", "--period", "30:48", "--climatology", str(climatology)]
    result = CliRunner().invoke(build_cli(host), args, obj=host)
    assert result.exit_code == 1 and "no initial time in [30, 48) leaves room for a 24-step lead" in result.output


def test_evaluate_needs_a_climatology(trained: Path, host: PluginHost) -> None:
    result = CliRunner().invoke(build_cli(host), ["weather", "evaluate", "--model", str(trained), "--input", str(EXAMPLE)], obj=host)
    assert result.exit_code == 1 and "climatology" in result.output


def test_batch_scoring_writes_one_embedding_per_hour(trained: Path, host: PluginHost, tmp_path: Path) -> None:
    summary = score(trained, EXAMPLE, tmp_path / "scores.h5", host)
    assert summary.scored == 47 and summary.bad == 0
    with h5py.File(tmp_path / "scores.h5") as handle:
        assert handle["embedding"].shape == (47, 16)
        assert handle["record_id"][0].decode() == "2019-03-25T00:00"


def test_rollout_training_trains_on_every_step_of_a_rollout(trained: Path, host: PluginHost, tmp_path: Path) -> None:
    """Fine-tuned from the one-step model on 3-step rollouts: the trainer's predictions are the forecaster's
    rollout (time of day advancing), and its loss covers all three steps."""
    records = list(read_records(host, "weather", EXAMPLE, {"lead": 1, "rollout": 3}))[:4]
    model = load_checkpoint(trained, host)
    trainer = Trainer(model, host.domain("weather").tokenizer(model.config), host, TrainingConfig(rollout_steps=3), tmp_path / "out")
    encoded = trainer.encode(records, "train")
    batch = trainer.collate(encoded, range(4), mask_seed=0)
    model.eval()
    with torch.no_grad():
        predictions = trainer.predict(model, batch)
        expected = rollout(model, batch.features, 3, hours=batch.extras["hour"])
    assert predictions.shape == batch.targets.shape == (4, 3, 1, 33, 49)
    torch.testing.assert_close(predictions, expected.transpose(0, 1))
    per_step = [model.head.loss(predictions[:, step], replace(batch, targets=batch.targets[:, step])) for step in range(3)]
    assert model.head.loss(predictions, batch).item() == pytest.approx(float(sum(per_step)) / 3, rel=1e-5)
    one_target = trainer.collate(trainer.encode(list(read_records(host, "weather", EXAMPLE))[:4], "train"), range(4), mask_seed=0)
    with pytest.raises(ConfigError, match="reader option rollout: 3"):
        trainer.predict(model, one_target)


def test_rollout_training_from_a_recipe(trained: Path, host: PluginHost, tmp_path: Path) -> None:
    for name, (start, stop) in {"train": (0, 32), "valid": (32, 48)}.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"source": str(EXAMPLE), "start": start, "stop": stop}))
    recipe = {"model": {"domain": "weather", "task": "forecast"}, "init": str(trained),
              "data": {"train": "train.json", "valid": "valid.json", "options": {"lead": 1, "rollout": 4}},
              "training": {"max_steps": 2, "batch_size": 8, "rollout_steps": 4}, "output": "rolled"}  # fmt: skip
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    result = train_recipe(tmp_path / "recipe.yaml", host)
    assert result.steps == 2 and np.isfinite(result.valid["rmse"])
    history = [json.loads(line) for line in (result.output / "metrics.jsonl").read_text().splitlines()]
    assert [row["split"] for row in history].count("train") == 2 and all(np.isfinite(row["loss"]) for row in history if "loss" in row)




def test_a_period_climatology_is_kept_beside_the_results_that_name_it(trained: Path, host: PluginHost, tmp_path: Path) -> None:
    """`--climatology-period` with `--output OUT.h5`: the climatology is written as OUT-climatology.h5, the path the results record."""
    eight_days = tmp_path / "eight-days.h5"
    with h5py.File(EXAMPLE) as source, h5py.File(eight_days, "w") as out:
        out["fields"] = np.concatenate([source["fields"][:]] * 4)  # the 48 hours four times: 192 hours
        out["time"] = source["time"][0] + 3600 * np.arange(192)
        for name in ("latitude", "longitude"):
            out[name] = source[name][:]
        for name in ("fields", "time", "latitude", "longitude"):
            out[name].attrs.update(source[name].attrs)  # channel names, units
    output = tmp_path / "eval.h5"
    args = ["weather", "evaluate", "--model", str(trained), "--input", str(eight_days), "--leads", "1", "--period", "168:192",
            "--climatology-period", "0:168", "--climatology-kind", "hour", "--output", str(output)]  # fmt: skip
    result = CliRunner().invoke(build_cli(host), args, obj=host)
    assert result.exit_code == 0, result.output
    kept = tmp_path / "eval-climatology.h5"
    with h5py.File(output) as results:
        assert json.loads(results.attrs["reader_options"])["climatology"] == str(kept)
    assert Climatology.load(kept).kind == "hour"
    again = CliRunner().invoke(build_cli(host), args, obj=host)
    assert again.exit_code != 0 and "exists; pass --overwrite" in again.output
