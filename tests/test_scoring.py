"""Batch scoring: layout, bad records, order, batch invariance, file-level errors, no half-written files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import yaml

from sciformer.errors import InputFileError, PluginError
from sciformer.scoring import score
from sciformer.training.recipe import train_recipe


@pytest.fixture
def classifier(host, tmp_path_factory, write_recipe):
    """A small trained text classifier and the table it scores."""
    folder = tmp_path_factory.mktemp("classifier")
    table = folder / "orders.csv"
    rows = ["id,text,label", *[f"m{i},<start> man ordered the chicken,chicken" for i in range(3)], *[f"w{i},<start> woman ordered the beef,beef" for i in range(3)]]
    table.write_text("\n".join(rows) + "\n")
    recipe = write_recipe(folder, training={"max_steps": 20, "eval_every": 10})
    raw = yaml.safe_load(recipe.read_text())
    raw["model"] = {**raw["model"], "task": "sequence-classification", "causal": False}
    raw["data"] = {"train": str(table), "valid": str(table), "options": {"target_column": "label", "id_column": "id"}}
    recipe.write_text(yaml.safe_dump(raw))
    return train_recipe(recipe, host).output, folder


def test_layout_status_and_order(host, classifier, tmp_path) -> None:
    model_dir, folder = classifier
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("<start> man ordered the chicken\n\n<start> woman ordered the beef the beef the beef the beef\n<start> woman ordered the beef\n")
    summary = score(model_dir, inputs, tmp_path / "out.h5", host, batch_tokens=6)
    assert (summary.scored, summary.bad) == (2, 1)
    with h5py.File(tmp_path / "out.h5") as results:
        assert results["embedding"].shape == (3, 32) and results["embedding"].dtype == np.float32
        assert list(results["record_id"].asstr()[:]) == ["1", "3", "4"]
        assert list(results["prediction"].attrs["labels"]) == ["beef", "chicken"]
        assert list(results["status"][:]) == [0, 1, 0]
        assert results["error"].asstr()[1] == "11 words exceed the model's limit of 8"
        assert list(results["prediction"][:]) == [1, -1, 0]
        assert np.allclose(results["probabilities"][[0, 2]].sum(axis=1), 1.0, atol=1e-5)
        attributes = dict(results.attrs)
        assert json.loads(attributes["model_config"])["task"] == "sequence-classification"
        assert len(attributes["checkpoint_sha256"]) == 64 and attributes["plugin"] == "text"
        assert json.loads(attributes["summary"])["scored"] == 2


def test_bad_records_are_marked_and_the_rest_scored(host, classifier, tmp_path) -> None:
    model_dir, _ = classifier
    table = tmp_path / "mixed.csv"
    table.write_text('text,label\n<start> man ordered the chicken,x\n"   ",x\n<start> woman ordered the beef,x\n')
    score(model_dir, table, tmp_path / "out.h5", host, options={"target_column": None, "id_column": None})
    with h5py.File(tmp_path / "out.h5") as results:
        assert list(results["status"][:]) == [0, 1, 0]
        assert results["error"].asstr()[1] == "empty text"
        assert np.isnan(results["embedding"][1]).all() and not np.isnan(results["embedding"][[0, 2]]).any()
        assert results["prediction"][1] == -1


def test_scores_do_not_depend_on_batching(host, classifier, tmp_path) -> None:
    model_dir, _ = classifier
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(["<start> man ordered the chicken", "<start> woman", "the beef the beef the beef ordered", "man"]) + "\n")
    score(model_dir, inputs, tmp_path / "one.h5", host, batch_tokens=1)
    score(model_dir, inputs, tmp_path / "all.h5", host, batch_tokens=10_000)
    with h5py.File(tmp_path / "one.h5") as one, h5py.File(tmp_path / "all.h5") as together:
        assert np.allclose(one["embedding"][:], together["embedding"][:], atol=1e-5)
        assert np.allclose(one["logits"][:], together["logits"][:], atol=1e-5)


def test_file_level_problems_stop_before_work(host, classifier, tmp_path) -> None:
    model_dir, folder = classifier
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("man\n")
    with pytest.raises(InputFileError, match="input not found"):
        score(model_dir, tmp_path / "missing.txt", tmp_path / "out.h5", host)
    with pytest.raises(PluginError, match=r"no reader for \.fasta files in domain 'text'"):
        (tmp_path / "x.fasta").write_text(">a\nMK\n")
        score(model_dir, tmp_path / "x.fasta", tmp_path / "out.h5", host)
    with pytest.raises(InputFileError, match="column"):
        score(model_dir, folder / "orders.csv", tmp_path / "out.h5", host, options={"data_column": "sequence"})
    (tmp_path / "exists.h5").write_bytes(b"")
    with pytest.raises(InputFileError, match="--overwrite"):
        score(model_dir, inputs, tmp_path / "exists.h5", host)
    assert not list(tmp_path.glob("*.partial")) and not (tmp_path / "out.h5").exists()


def test_unknown_domain_of_a_checkpoint(host, classifier, tmp_path) -> None:
    model_dir, _ = classifier
    meta = json.loads((model_dir / "config.json").read_text())
    meta["model"]["domain"] = "seismology"
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(meta))
    (tmp_path / "ckpt" / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    (tmp_path / "in.txt").write_text("man\n")
    with pytest.raises(PluginError, match="no installed plugin serves domain 'seismology'"):
        score(tmp_path / "ckpt", tmp_path / "in.txt", tmp_path / "out.h5", host)
