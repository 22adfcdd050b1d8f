"""`sciformer protein embed` runs through `sciformer score`: representations of any layer in the score
layout, equal to what the command wrote before it did (data/embed_reference.npz)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sciformer.checkpoint import resolve_model, weights_sha256
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError
from sciformer.records import Record
from sciformer.scoring import score_chunk
from sciformer.scoring.scorer import scorer_for

DATA = Path(__file__).parents[1] / "data"
# `mean`, `bos` and `residues` of esm2-mlm-small on data/deeploc_sample.fasta as the command wrote them
# before it ran through the scoring pipeline (its own batching loop and HDF5 layout): every record at
# layers -1 and 2, the per-residue vectors of the shortest record at layer 2 and of the shortest windowed
# one (517 residues, two windows of 510) at layer -1. The same machine reproduces them exactly.
REFERENCE = Path(__file__).parent / "data" / "embed_reference.npz"
TOLERANCE = 1e-5  # float32 rounding of other CPUs' kernels


def _embed(host, *args: str) -> None:
    result = CliRunner().invoke(build_cli(host), ["protein", "embed", *args], obj=host, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _vectors(column: h5py.Dataset, row: int) -> np.ndarray:
    """(L, D) per-residue vectors of one record from the ragged `token_embeddings` column."""
    return column[row].reshape(-1, column.attrs["dim"])


@pytest.mark.parametrize(("layer", "suffix"), [(-1, "last"), (2, "2")])
def test_embeddings_are_those_of_the_command_before_it_ran_through_score(layer: int, suffix: str, host, tmp_path: Path) -> None:
    reference = np.load(REFERENCE)
    assert weights_sha256(resolve_model("esm2-mlm-small", host)) == str(reference["checkpoint_sha256"]), "esm2-mlm-small changed since the reference was written"
    out = tmp_path / "emb.h5"
    _embed(host, "--model", "esm2-mlm-small", "--input", str(DATA / "deeploc_sample.fasta"), "--output", str(out), "--layer", str(layer), "--per-residue")
    with h5py.File(out) as results:
        assert results["record_id"].asstr()[:].tolist() == reference["record_id"].tolist()
        assert (results["status"][:] == 0).all()
        assert np.abs(results["embedding"][:] - reference[f"mean_{suffix}"]).max() <= TOLERANCE
        assert np.abs(results["bos"][:] - reference[f"bos_{suffix}"]).max() <= TOLERANCE
        residues = _vectors(results["token_embeddings"], int(reference[f"residues_{suffix}_row"]))
        assert residues.shape == reference[f"residues_{suffix}"].shape
        assert np.abs(residues - reference[f"residues_{suffix}"]).max() <= TOLERANCE
        assert results["embedding"].attrs["layer"] == (4 if layer == -1 else layer)


def test_any_layer_matches_transformers_hidden_states(model, tokenizer, hf_model, host) -> None:
    records = [Record("a", "MKTAYIAKQRQISFVKSHFSRQ"), Record("bad", "MK1"), Record("b", "GGSWL")]
    scorer = scorer_for(host, model, {"layer": 1})
    columns, _ = score_chunk(model, tokenizer, records, outputs=["embedding", "bos", "token_embeddings"], scorer=scorer)
    assert columns["status"].tolist() == [0, 1, 0] and columns["error"][1].startswith("invalid character '1' at position 3")
    assert np.isnan(columns["embedding"][1]).all() and columns["token_embeddings"][1].size == 0
    with torch.no_grad():
        hidden = hf_model(input_ids=tokenizer([records[0]]).ids, output_hidden_states=True).hidden_states[1][0]
    assert np.allclose(columns["token_embeddings"][0].reshape(-1, 64), hidden[1:-1].numpy(), atol=1e-4)
    assert np.allclose(columns["bos"][0], hidden[0].numpy(), atol=1e-4)
    assert np.allclose(columns["embedding"][0], hidden[1:-1].mean(0).numpy(), atol=1e-4)
    assert columns["token_embeddings"][2].shape == (5 * 64,)
    with pytest.raises(ConfigError, match=r"layer 5 does not exist: the model has layers 0..2"):
        scorer_for(host, model, {"layer": 5})
    with pytest.raises(ConfigError, match="option layer must be a layer number"):
        scorer_for(host, model, {"layer": "last"})


def test_sequences_and_options_on_the_command_line(host, imported, tmp_path: Path) -> None:
    out = tmp_path / "emb.h5"
    _embed(host, "--model", str(imported), "--sequence", "MKTAYIAKQRQISFVKSHFSRQ", "--sequence", "MK1", "--sequence", "GGSWL", "--output", str(out), "--layer", "0", "--per-residue")
    with h5py.File(out) as results:
        assert sorted(results) == ["bos", "embedding", "error", "record_id", "status", "token_embeddings", "truncated"]
        assert results["record_id"].asstr()[:].tolist() == ["seq-1", "seq-2", "seq-3"] and results["status"][:].tolist() == [0, 1, 0]
        assert [len(v) for v in results["token_embeddings"][:]] == [22 * 64, 0, 5 * 64]
        assert np.allclose(_vectors(results["token_embeddings"], 0).mean(0), results["embedding"][0], atol=1e-6)
        assert results["bos"].attrs["layer"] == 0
    result = CliRunner().invoke(build_cli(host), ["protein", "embed", "--model", str(imported), "--sequence", "MKV", "--output", str(out), "--option", "layer=1"], obj=host)
    assert result.exit_code == 1 and "give the layer as --layer" in result.stderr
    result = CliRunner().invoke(build_cli(host), ["protein", "embed", "--model", str(imported), "--output", str(out), "--overwrite"], obj=host)
    assert result.exit_code == 1 and "give the records as --input or as --sequence" in result.stderr
