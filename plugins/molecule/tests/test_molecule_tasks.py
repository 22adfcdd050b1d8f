"""Tasks and benchmarks: target standardisation, splits, the fingerprint baseline, metrics, CLI, the shipped model."""

from __future__ import annotations

import csv
import functools
import json
import operator
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sciformer.build import build_model
from sciformer.cli.main import build_cli
from sciformer.config import ModelConfig
from sciformer.errors import ConfigError
from sciformer.records import Record
from sciformer_molecule.baseline import fit_ridge, morgan_fingerprints, run_baseline
from sciformer_molecule.evaluation import evaluate_file
from sciformer_molecule.metrics import regression_metrics, roc_auc
from sciformer_molecule.prepare import prepare_config
from sciformer_molecule.splits import murcko_scaffold, scaffold_split, split_file

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "esol_sample.csv"


def sample_rows() -> list[dict[str, str]]:
    with open(SAMPLE, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_prepare_config_learns_labels_and_target_scale(host, small_config: ModelConfig) -> None:
    """Classification gets sorted class names (the core's); regression gets the training mean and std (the domain's)."""
    records = [Record("a", "C", "1"), Record("b", "CC", "0"), Record("c", "CCC", "1")]
    classes = host.prepare_config(small_config.replace(task="sequence-classification", num_labels=1), records)
    assert classes.labels == ("0", "1") and classes.num_labels == 2
    regression = prepare_config(small_config, [Record("a", "C", "1.0"), Record("b", "CC", "3.0"), Record("x", "CC", "oops")])
    assert regression.option("target_mean") == 2.0 and regression.option("target_std") == pytest.approx(2**0.5)


def test_regression_head_works_in_target_units(host, small_config: ModelConfig) -> None:
    """Predictions are mean + std * linear; the loss is the standardised MSE."""
    config = small_config.replace(domain_options={"target_mean": -3.0, "target_std": 2.0})
    model = build_model(config, host).eval()
    torch.nn.init.zeros_(model.head.linear.weight), torch.nn.init.zeros_(model.head.linear.bias)
    batch = host.tokenizer(config)([Record("a", "CCO", "-1.0"), Record("b", "c1ccccc1", "-3.0")])
    with torch.no_grad():
        prediction = model(batch).prediction
    assert prediction.flatten().tolist() == [-3.0, -3.0]
    assert model.head.loss(prediction, batch).item() == pytest.approx(0.5)  # ((2/2)^2 + 0) / 2
    assert model.head.evaluate(prediction, batch)["mse"] == (4.0, 2)


def test_scaffold_split_keeps_scaffolds_apart() -> None:
    """No Murcko scaffold appears in two parts; the split is reproducible for a seed."""
    smiles = [row["smiles"] for row in sample_rows()]
    parts = scaffold_split(smiles, 0.2, 0.2, seed=0)
    assert sorted(functools.reduce(operator.iadd, parts.values(), [])) == list(range(len(smiles)))
    scaffolds = {name: {murcko_scaffold(smiles[i]) for i in rows} for name, rows in parts.items()}
    assert not scaffolds["train"] & scaffolds["valid"] and not scaffolds["train"] & scaffolds["test"] and not scaffolds["valid"] & scaffolds["test"]
    assert parts == scaffold_split(smiles, 0.2, 0.2, seed=0)
    assert murcko_scaffold("CCO") == "" and murcko_scaffold("c1ccccc1CC") == "c1ccccc1" and murcko_scaffold("C1C") is None


def test_split_file_writes_three_tables(tmp_path: Path) -> None:
    """All columns are kept and every row lands in exactly one part."""
    written = split_file(SAMPLE, tmp_path, "random", 0.2, 0.2, seed=1)
    counts = {part: len(list(csv.DictReader(open(path, encoding="utf-8")))) for part, path in written.items()}  # noqa: SIM115
    assert counts == {"train": 30, "valid": 10, "test": 10}
    assert open(written["test"], encoding="utf-8").readline().strip() == "smiles,logS"  # noqa: SIM115
    with pytest.raises(ConfigError):
        split_file(SAMPLE, tmp_path, "random", 0.6, 0.5, seed=1)


def test_roc_auc_and_regression_metrics() -> None:
    """ROC-AUC by ranks (ties count half); RMSE, MAE and R^2."""
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    with pytest.raises(ConfigError):
        roc_auc(np.array([1, 1]), np.array([0.2, 0.3]))
    metrics = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert metrics["rmse"] == pytest.approx((4 / 3) ** 0.5) and metrics["mae"] == pytest.approx(2 / 3) and metrics["r2"] == pytest.approx(-1.0)


def test_ridge_baseline_on_morgan_fingerprints() -> None:
    """The closed-form ridge fits training data and picks an alpha on validation."""
    rows = sample_rows()
    smiles, targets = [r["smiles"] for r in rows], np.array([float(r["logS"]) for r in rows])
    features, ok = morgan_fingerprints(smiles + ["C1CC"])
    assert features.shape == (51, 2048) and ok.tolist() == [True] * 50 + [False]
    model = fit_ridge(features[:50], targets, alpha=0.01)
    assert regression_metrics(targets, model.predict(features[:50]))["rmse"] < 0.1
    result = run_baseline((smiles[:30], targets[:30]), (smiles[30:40], targets[30:40]), (smiles[40:], targets[40:]), classification=False)
    assert result["alpha"] in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0) and result["test_rmse"] > 0


def test_shipped_model_scores_its_example(host) -> None:
    """`mat-esol-small` loads by name and predicts ESOL logS far better than the mean."""
    metrics = evaluate_file("mat-esol-small", SAMPLE, host)
    assert metrics["records"] == 50 and metrics["bad"] == 0
    assert metrics["r2"] > 0.5


def test_cli_commands(host, tmp_path: Path) -> None:
    """split, baseline, featurize and evaluate through `sciformer molecule`."""
    runner = CliRunner()
    cli = build_cli(host)
    result = runner.invoke(cli, ["molecule", "split", str(SAMPLE), "--out", str(tmp_path), "--method", "scaffold", "--valid", "0.2", "--test", "0.2"], obj=host)
    assert result.exit_code == 0 and "scaffold split" in result.output
    result = runner.invoke(cli, ["molecule", "baseline", str(tmp_path), "--target-column", "logS"], obj=host)
    assert result.exit_code == 0 and "test_rmse" in json.loads(result.output)
    result = runner.invoke(cli, ["molecule", "featurize", "CCO", "C1CC", "--geometry", "2d"], obj=host)
    assert "canonical CCO, 4 tokens x 28 features, 2d geometry" in result.output and "bad record (invalid SMILES" in result.output
    result = runner.invoke(cli, ["molecule", "evaluate", "--model", "mat-esol-small", "--input", str(tmp_path / "test.csv")], obj=host)
    assert result.exit_code == 0 and json.loads(result.output)["records"] == 10


def test_featurizing_workers_give_the_inline_results(host, tmp_path: Path) -> None:
    """Molecule encodings (features, adjacency, distances) survive the trip from worker processes."""
    import h5py
    from sciformer.scoring import score

    for workers in (0, 2):
        score("mat-esol-small", SAMPLE, tmp_path / f"w{workers}.h5", host, workers=workers, chunk_records=16)
    with h5py.File(tmp_path / "w0.h5") as inline, h5py.File(tmp_path / "w2.h5") as pooled:
        assert list(pooled["status"][:]) == [0] * 50
        for name in ("embedding", "prediction"):
            assert np.array_equal(inline[name][:], pooled[name][:]), name
