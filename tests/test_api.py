"""`sciformer.load(model).predict(inputs)`: the command's scores, in memory, one record per input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import sciformer
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.records import Record

ROOT = Path(__file__).resolve().parents[1]
MOLECULES = ROOT / "plugins/molecule/data/esol_sample.csv"
PROTEINS = ROOT / "plugins/protein/data/deeploc_sample.fasta"


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def cli_scores(host: PluginHost, inputs: Path, output: Path, *arguments: str) -> dict[str, np.ndarray]:
    """Every dataset of the HDF5 file `sciformer score` writes for `inputs`, with the class names."""
    result = CliRunner().invoke(build_cli(host), ["score", "--input", str(inputs), "--output", str(output), *arguments], obj=host)
    assert result.exit_code == 0, result.output
    with h5py.File(output) as results:
        columns = {name: results[name].asstr()[:] if name in ("record_id", "error") else results[name][:] for name in results}
        columns["labels"] = [str(label) for label in results["prediction"].attrs.get("labels", [])]
    return columns


def test_import_sciformer_stays_light_until_load() -> None:
    code = "import sys, sciformer; print('torch' in sys.modules); sciformer.load; print('torch' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.split() == ["False", "True"]


def test_molecule_predictions_match_the_command(host, tmp_path) -> None:
    smiles = ["CCO", "c1ccccc1", "C1CC", "CC(=O)Oc1ccccc1C(=O)O", "not a molecule"]
    table = tmp_path / "molecules.csv"
    table.write_text("smiles\n" + "\n".join(smiles) + "\n")
    expected = cli_scores(host, table, tmp_path / "out.h5", "--model", "mat-esol-small")
    model = sciformer.load("mat-esol-small", host=host)
    predicted = model.predict(smiles)
    assert [p.id for p in predicted] == ["1", "2", "3", "4", "5"] and [p.status for p in predicted] == expected["status"].tolist() == [0, 0, 1, 0, 1]
    assert [p.error for p in predicted] == list(expected["error"]) and "invalid SMILES 'C1CC'" in predicted[2].error
    good = [i for i, p in enumerate(predicted) if p.status == 0]
    np.testing.assert_allclose([predicted[i].prediction for i in good], expected["prediction"][good], rtol=0, atol=1e-6)
    assert predicted[2].prediction is None and predicted[0].embedding is None and predicted[0].probabilities is None
    from_file = model.predict(MOLECULES, embeddings=True)
    reference = cli_scores(host, MOLECULES, tmp_path / "esol.h5", "--model", "mat-esol-small", "--outputs", "prediction,embedding")
    assert [p.id for p in from_file] == list(reference["record_id"])
    np.testing.assert_allclose([p.prediction for p in from_file], reference["prediction"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.stack([p.embedding for p in from_file]), reference["embedding"], rtol=0, atol=1e-6)


def test_protein_predictions_match_the_command(host, tmp_path) -> None:
    fasta = tmp_path / "proteins.fasta"
    fasta.write_text("".join(">" + record for record in PROTEINS.read_text().split(">")[1:5]) + ">broken\nMK*LV\n")
    expected = cli_scores(host, fasta, tmp_path / "out.h5", "--model", "esm2-deeploc-small", "--outputs", "embedding,probabilities,prediction")
    model = sciformer.load("esm2-deeploc-small", host=host)
    predicted = model.predict(fasta, embeddings=True)
    assert [p.id for p in predicted] == list(expected["record_id"]) and [p.status for p in predicted] == [0, 0, 0, 0, 1]
    assert predicted[-1].error == expected["error"][-1] and "invalid character '*'" in predicted[-1].error and predicted[-1].prediction is None
    labels = expected["labels"]
    assert [p.prediction for p in predicted[:4]] == [labels[i] for i in expected["prediction"][:4]]
    probabilities = np.array([[p.probabilities[label] for label in labels] for p in predicted[:4]])
    np.testing.assert_allclose(probabilities, expected["probabilities"][:4], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.stack([p.embedding for p in predicted[:4]]), expected["embedding"][:4], rtol=0, atol=1e-6)
    sequence = PROTEINS.read_text().split(">")[1].split("\n", 1)[1].replace("\n", "")
    one = model.predict([Record("mine", sequence)])
    assert one[0].id == "mine" and one[0].prediction == predicted[0].prediction


def test_load_refuses_an_unknown_dtype(host) -> None:
    with pytest.raises(ConfigError, match="dtype must be one of float32, bfloat16"):
        sciformer.load("mat-esol-small", dtype="float16", host=host)
