"""Training, scoring and the command line on the shipped FSDD subset, and the shipped model itself."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from sciformer.checkpoint import read_checkpoint_info
from sciformer.cli.main import main
from sciformer.config import ModelConfig
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer.training.recipe import train_recipe
from sciformer_audio.statistics import feature_statistics, prepare_config

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE_OPTIONS = {"data_column": "file", "target_column": "digit"}


def test_prepare_config_learns_statistics_and_labels(host: PluginHost) -> None:
    """Class names from the targets; mean and std of the padded features; every option made explicit."""
    records = list(read_records(host, "audio", DATA / "fsdd_sample.csv", SAMPLE_OPTIONS))
    config = ModelConfig(domain="audio", task="sequence-classification", num_labels=1, domain_options={"sample_rate": 8000, "num_mel_bins": 32, "max_length": 40})
    prepared = host.prepare_config(config, records)  # the domain's settings, then the core's class names
    assert prepared.labels == tuple(str(d) for d in range(10)) and prepared.num_labels == 10
    mean, std = feature_statistics(config, records)
    assert prepared.option("norm_mean") == mean and prepared.option("norm_std") == std
    assert -15.0 < mean < 0.0 < std
    assert prepared.option("position_grid") == [2, 3] and prepared.option("resampler").startswith("scipy.signal.resample_poly")
    given = prepare_config(config.replace(domain_options={**config.domain_options, "norm_mean": -1.0, "norm_std": 2.0}), records)
    assert (given.option("norm_mean"), given.option("norm_std")) == (-1.0, 2.0)


def test_recipe_trains_and_the_model_scores(tmp_path: Path, host: PluginHost) -> None:
    """A few steps of `train_recipe` on the shipped subset, then batch scoring into HDF5 with a bad file."""
    recipe = {
        "model": {"domain": "audio", "task": "sequence-classification", "dim": 16, "depth": 1, "heads": 2,
                  "domain_options": {"sample_rate": 8000, "num_mel_bins": 32, "max_length": 40, "time_mask": 5}},
        "data": {"train": str(DATA / "fsdd_sample.csv"), "options": SAMPLE_OPTIONS, "split": {"valid": 0.2, "seed": 0}},
        "training": {"max_steps": 3, "batch_size": 8, "lr": 1.0e-3, "eval_every": 3, "metric": "accuracy", "mode": "max"},
        "output": str(tmp_path / "model"),
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = train_recipe(path, host)
    info = read_checkpoint_info(result.output)
    assert info.config.labels == tuple(str(d) for d in range(10)) and "accuracy" in result.valid
    (tmp_path / "clips").mkdir()
    for row in (DATA / "fsdd_sample.csv").read_text().splitlines()[1:4]:
        name = row.split(",")[0]
        (tmp_path / "clips" / name).write_bytes((DATA / name).read_bytes())
    (tmp_path / "clips" / "broken.wav").write_bytes(b"not audio at all")
    summary = score(result.output, tmp_path / "clips", tmp_path / "scores.h5", host)
    assert (summary.scored, summary.bad) == (3, 1)
    with h5py.File(tmp_path / "scores.h5") as results:
        assert results["embedding"].shape == (4, 16) and results["probabilities"].shape == (4, 10)
        errors = {_text(i): _text(e) for i, e in zip(results["record_id"][:], results["error"][:])}
        assert "cannot decode broken.wav" in errors["broken.wav"] and errors["0_george_0.wav"] == ""
        options = json.loads(results.attrs["model_config"])["domain_options"]
    assert options["downmix"] == "mean of channels" and options["sample_rate"] == 8000  # preprocessing travels with outputs


def test_shipped_model_recognises_the_shipped_digits(tmp_path: Path, host: PluginHost) -> None:
    """`ast-fsdd-small` scores its example file (held-out FSDD test recordings) mostly right."""
    shipped = host.shipped_models()["ast-fsdd-small"]
    assert shipped.example == DATA / "fsdd_sample.csv"
    summary = score("ast-fsdd-small", shipped.example, tmp_path / "demo.h5", host, options=shipped.example_options)
    assert (summary.scored, summary.bad) == (30, 0)
    with h5py.File(tmp_path / "demo.h5") as results:
        labels = list(results["prediction"].attrs["labels"])
        predicted = [labels[i] for i in results["prediction"][:]]
    truth = [r.target for r in read_records(host, "audio", shipped.example, shipped.example_options)]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth)])
    assert accuracy >= 0.8, f"shipped model got {accuracy:.0%} of the shipped test recordings"


def test_command_line_import_and_score(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sciformer import hf-ast` then `sciformer score` on a sound file, as a user would run them."""
    from transformers import ASTConfig, ASTForAudioClassification

    monkeypatch.setenv("SCIFORMER_PLUGINS", "audio")
    config = ASTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, num_mel_bins=64, max_length=50, num_labels=2)
    ASTForAudioClassification(config).save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "preprocessor_config.json").write_text(json.dumps({"sampling_rate": 8000, "mean": -6.0, "std": 4.0}))
    with pytest.raises(SystemExit) as done:
        main(["import", "hf-ast", str(tmp_path / "hf"), "--out", str(tmp_path / "ours")])
    assert done.value.code == 0
    assert read_checkpoint_info(tmp_path / "ours").config.option("sample_rate") == 8000
    wav = next(DATA.glob("*.wav"))
    with pytest.raises(SystemExit) as done:
        main(["score", "--model", str(tmp_path / "ours"), "--input", str(wav), "--output", str(tmp_path / "one.h5")])
    assert done.value.code == 0
    with h5py.File(tmp_path / "one.h5") as results:
        assert results["logits"].shape == (1, 2) and np.isfinite(results["logits"][:]).all()


def _text(value: bytes | str) -> str:
    """HDF5 strings may come back as bytes."""
    return value.decode() if isinstance(value, bytes) else value
