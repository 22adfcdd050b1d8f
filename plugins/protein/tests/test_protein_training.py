"""Training through the engine's trainer: masked-LM pre-training, sequence and residue labels, and the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import yaml
from click.testing import CliRunner
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info
from sciformer.cli.main import build_cli
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer.training.recipe import train_recipe

TINY = {"domain": "protein", "dim": 16, "depth": 1, "heads": 2, "domain_options": {"max_residues": 30}}


def _recipe(tmp_path: Path, table: str, model: dict, options: dict) -> Path:
    data = tmp_path / "data.csv"
    data.write_text(table)
    recipe = {
        "model": {**TINY, **model},
        "data": {"train": str(data), "valid": str(data), "options": options},
        "training": {"max_steps": 3, "batch_size": 4, "lr": 1e-3, "seed": 0},
        "output": str(tmp_path / "run"),
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_masked_lm_pretraining(host, tmp_path) -> None:
    table = "id,sequence\n" + "".join(f"p{i},MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ{'A' * i}\n" for i in range(6))
    result = train_recipe(_recipe(tmp_path, table, {"task": "mlm"}, {}), host)
    assert result.steps == 3 and 0 < result.valid["accuracy"] <= 1 and result.valid["loss"] > 0
    assert load_checkpoint(result.output, host).config.task == "mlm"


def test_residue_labels_with_a_resolution_mask(host, tmp_path) -> None:
    table = "id,sequence,ss3,resolved\na,MKTAYIAK,CCHHHHEE,01111110\nb,GGSWLV,CEEECC,111111\nc,MKV,HHH,111\nd,LLAG,CCEE,1111\n"
    options = {"target_column": "ss3", "label_mask_column": "resolved"}
    result = train_recipe(_recipe(tmp_path, table, {"task": "token-classification"}, options), host)
    info = read_checkpoint_info(result.output)
    assert info.config.labels == ("C", "E", "H") and info.config.num_labels == 3
    assert 0 <= result.valid["accuracy"] <= 1
    cli = CliRunner().invoke(build_cli(host), ["protein", "residues", "--model", str(result.output), "--sequence", "MKTAYIAK", "--sequence", "MK1"], obj=host, catch_exceptions=False)
    header, good, bad = cli.stdout.strip().splitlines()
    assert header == "record_id,prediction,mean_confidence,error"
    record_id, prediction, confidence, error = good.split(",")
    assert record_id == "seq-1" and len(prediction) == 8 and set(prediction) <= {"C", "E", "H"} and 1 / 3 <= float(confidence) <= 1 and not error
    assert bad.startswith("seq-2,,,invalid character '1' at position 3")


def test_shipped_model_scores_the_shipped_example(host, tmp_path) -> None:
    shipped = host.shipped_models()["esm2-deeploc-small"]
    info = read_checkpoint_info(shipped.path)
    assert info.config.task == "sequence-classification" and len(info.config.labels) == 10
    assert sum(f.stat().st_size for f in shipped.path.iterdir()) < 5_000_000
    summary = score(shipped.name, shipped.example, tmp_path / "out.h5", host, options=shipped.example_options)
    assert (summary.scored, summary.bad) == (60, 0)
    with h5py.File(tmp_path / "out.h5") as results:
        probabilities = results["probabilities"][:]
        assert probabilities.shape == (60, 10) and abs(probabilities.sum(1) - 1).max() < 1e-4
    recorded = json.loads((shipped.path / "summary.json").read_text())
    assert recorded["records"] == {"train": 1883, "valid": 235, "test": 235}


def test_shipped_secondary_structure_model_labels_every_residue(host) -> None:
    shipped = host.shipped_models()["esm2-ss3-small"]
    info = read_checkpoint_info(shipped.path)
    assert info.config.task == "token-classification" and info.config.labels == ("C", "E", "H")
    out = CliRunner().invoke(build_cli(host), ["protein", "residues", "--model", shipped.name, "--input", str(shipped.example)], obj=host, catch_exceptions=False)
    rows = out.stdout.strip().splitlines()[1:]
    sequences = [r.data for r in read_records(host, "protein", shipped.example, shipped.example_options)]
    assert len(rows) == len(sequences) == 20
    for row, sequence in zip(rows, sequences):
        prediction = row.split(",")[1]
        assert len(prediction) == len(sequence) and set(prediction) <= {"C", "E", "H"}
