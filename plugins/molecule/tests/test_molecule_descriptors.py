"""Molecule-level features: RDKit's 2D descriptors, standardised by the training molecules, beside the pooled atoms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors
from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint, save_checkpoint
from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record
from sciformer.scoring.pipeline import score_chunk
from sciformer_molecule.descriptors import CLIP, DESCRIPTOR_NAMES, descriptor_statistics, descriptor_values, standardised
from sciformer_molecule.prepare import prepare_config
from sciformer_molecule.tokenizer import MOLECULE_FEATURES

TRAINING = [Record("a", "CCO", "1.0"), Record("b", "c1ccccc1O", "2.0"), Record("c", "CC(=O)Nc1ccc(O)cc1", "0.5"), Record("d", "not a molecule", "3.0")]


@pytest.fixture
def descriptor_config(small_config: ModelConfig) -> ModelConfig:
    """The small regression model taking descriptors, prepared on three good molecules (one bad record)."""
    return prepare_config(small_config.replace(domain_options={"molecule_features": "rdkit2d", "feature_hidden": 16}), TRAINING)


def test_descriptor_values_are_rdkits_and_missing_values_are_nan() -> None:
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    values = descriptor_values(mol)
    assert values.shape == (len(Descriptors.descList),) == (len(DESCRIPTOR_NAMES),)
    assert values[DESCRIPTOR_NAMES.index("MolWt")] == pytest.approx(Descriptors.MolWt(mol))
    assert values[DESCRIPTOR_NAMES.index("NumHDonors")] == 2
    scores = standardised(np.array([np.nan, 1e6, -1e6, 3.0]), [0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 2.0])
    assert scores.tolist() == [0.0, CLIP, -CLIP, 1.0] and scores.dtype == np.float32


def test_statistics_ignore_missing_values_and_keep_constant_columns_finite() -> None:
    rows = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, np.nan], [np.nan, 5.0, np.nan]])
    mean, std = descriptor_statistics(rows)
    assert mean == [2.0, 5.0, 0.0] and std == pytest.approx([2**0.5, 1.0, 1.0])


def test_prepare_config_sets_the_training_molecules_statistics(descriptor_config: ModelConfig) -> None:
    options = descriptor_config.domain_options
    rows = np.stack([descriptor_values(Chem.MolFromSmiles(s)) for s in ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1")])
    assert len(options["feature_mean"]) == len(DESCRIPTOR_NAMES)
    assert options["feature_mean"][DESCRIPTOR_NAMES.index("MolWt")] == pytest.approx(rows[:, DESCRIPTOR_NAMES.index("MolWt")].mean())
    assert options["feature_std"][DESCRIPTOR_NAMES.index("MolWt")] == pytest.approx(rows[:, DESCRIPTOR_NAMES.index("MolWt")].std(ddof=1))
    assert options["target_mean"] == pytest.approx(6.5 / 4), "regression statistics are still set (the core skips only records the reader marked bad)"
    assert prepare_config(descriptor_config, TRAINING[:1]) == descriptor_config, "statistics already set are kept"


def test_the_batch_carries_standardised_descriptors_and_the_head_uses_them(host, descriptor_config: ModelConfig) -> None:
    tokenizer = host.tokenizer(descriptor_config)
    records = [Record("x", "OCC", "1.0"), Record("y", "c1ccccc1N", "2.0")]
    batch = tokenizer(records)
    options = descriptor_config.domain_options
    expected = standardised(descriptor_values(Chem.MolFromSmiles("CCO")), options["feature_mean"], options["feature_std"])
    assert batch.extras[MOLECULE_FEATURES].shape == (2, len(DESCRIPTOR_NAMES))
    assert torch.equal(batch.extras[MOLECULE_FEATURES][0], torch.from_numpy(expected)), "computed on the canonical molecule"
    model = build_model(descriptor_config, host).eval()
    assert model.head.linear.in_features == descriptor_config.dim + 16
    with torch.no_grad():
        plain = model(batch).prediction
        batch.extras[MOLECULE_FEATURES][0] += 1.0
        moved = model(batch).prediction
    assert not torch.equal(plain[0], moved[0]) and torch.equal(plain[1], moved[1])


def test_a_saved_model_scores_the_same_and_classification_takes_descriptors(host, descriptor_config: ModelConfig, tmp_path) -> None:
    model = build_model(descriptor_config, host).eval()
    records = [Record("x", "OCC"), Record("y", "c1ccccc1N")]
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "m", host), host)
    first, _ = score_chunk(model, host.tokenizer(descriptor_config), records)
    again, _ = score_chunk(loaded, host.tokenizer(loaded.config), records)
    assert np.array_equal(first["prediction"], again["prediction"])
    classes = host.prepare_config(descriptor_config.replace(task="sequence-classification", num_labels=1, domain_options={"molecule_features": "rdkit2d"}), TRAINING[:3])
    classifier = build_model(classes, host)
    assert classifier.head.descriptor_layer is not None and classifier.head.linear.in_features == classes.dim + 256
    plain = build_model(descriptor_config.replace(task="sequence-classification", num_labels=2, domain_options={}), host)
    assert not hasattr(plain.head, "descriptor_layer"), "without descriptors: the engine's head, as before"


def test_refusals(host, small_config: ModelConfig, descriptor_config: ModelConfig) -> None:
    with pytest.raises(ConfigError, match="needs feature_mean and feature_std"):
        host.tokenizer(small_config.replace(domain_options={"molecule_features": "rdkit2d"}))
    options = dict(descriptor_config.domain_options)
    with pytest.raises(ConfigError, match="trained on 3 RDKit descriptors, this RDKit computes"):
        host.tokenizer(descriptor_config.replace(domain_options={**options, "feature_mean": [0.0] * 3, "feature_std": [1.0] * 3}))
    with pytest.raises(ConfigError, match="must be given together"):
        host.tokenizer(descriptor_config.replace(domain_options={**options, "feature_std": None}))
    with pytest.raises(ConfigError, match="molecule_features"):
        host.tokenizer(small_config.replace(domain_options={"molecule_features": "morgan"}))
    with pytest.raises(BadRecordError, match="invalid SMILES"):
        host.tokenizer(descriptor_config).encode(Record("bad", "C1CC"))
