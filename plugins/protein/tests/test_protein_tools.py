"""What scientists get out: variant scores, pseudo-log-likelihoods, embeddings and contacts, in Python and on the CLI."""

from __future__ import annotations

import csv
import io

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record
from sciformer_protein import alphabet
from sciformer_protein.likelihood import pseudo_log_likelihood
from sciformer_protein.variants import all_substitutions, parse_variant, score_variants

WILD_TYPE = "MKTAYIAKQRQISFVKSHFSRQ"


def _hf_log_probs(hf_model, tokenizer, sequence: str, masked: int | None = None) -> torch.Tensor:
    """(L, V) transformers log-probabilities, with residue `masked` (0-based) replaced by <mask>."""
    ids = tokenizer([Record("x", sequence)]).ids
    if masked is not None:
        ids[0, masked + 1] = alphabet.MASK
    with torch.no_grad():
        return hf_model(input_ids=ids).logits[0, 1:-1].log_softmax(-1)


def test_variant_scores_follow_esms_recipe(model, tokenizer, hf_model) -> None:
    variants = ["K2R", "K2R:Q9A", "m1w"]
    masked = score_variants(model, tokenizer, WILD_TYPE, variants, "masked-marginal")
    wild = score_variants(model, tokenizer, WILD_TYPE, variants, "wild-type-marginal")
    ids = alphabet.TOKEN_IDS

    def odds(table: torch.Tensor, position: int, wt: str, mt: str) -> float:
        return float(table[position - 1, ids[mt]] - table[position - 1, ids[wt]])

    unmasked = _hf_log_probs(hf_model, tokenizer, WILD_TYPE)
    expected_masked = [
        odds(_hf_log_probs(hf_model, tokenizer, WILD_TYPE, 1), 2, "K", "R"),
        odds(_hf_log_probs(hf_model, tokenizer, WILD_TYPE, 1), 2, "K", "R") + odds(_hf_log_probs(hf_model, tokenizer, WILD_TYPE, 8), 9, "Q", "A"),
        odds(_hf_log_probs(hf_model, tokenizer, WILD_TYPE, 0), 1, "M", "W"),
    ]
    expected_wild = [odds(unmasked, 2, "K", "R"), odds(unmasked, 2, "K", "R") + odds(unmasked, 9, "Q", "A"), odds(unmasked, 1, "M", "W")]
    assert np.allclose([s.score for s in masked], expected_masked, atol=1e-4)
    assert np.allclose([s.score for s in wild], expected_wild, atol=1e-4)


@pytest.mark.parametrize(("variant", "message"), [
    ("A2G", "the wild-type sequence has K at position 2, not A"),
    ("K99R", r"position 99 is outside the sequence \(1..22\)"),
    ("K2", "is not written like A23G"),
    ("K2R:K2A", "position 2 is mutated twice"),
    ("K2J", "'J' is not an amino-acid letter"),
])
def test_bad_variants_are_named(variant: str, message: str, model, tokenizer) -> None:
    with pytest.raises(BadRecordError, match=message):
        parse_variant(variant, WILD_TYPE)
    scored = score_variants(model, tokenizer, WILD_TYPE, [variant, "K2R"])
    assert scored[0].score is None and scored[0].error and scored[1].error is None


def test_scan_and_methods(model, tokenizer, small_config, host) -> None:
    scan = all_substitutions("MKV")
    assert len(scan) == 57 and scan[:2] == ["M1A", "M1C"]
    with pytest.raises(ConfigError, match="unknown scoring method"):
        score_variants(model, tokenizer, WILD_TYPE, ["K2R"], "best-guess")
    from sciformer.build import build_model

    classifier = build_model(small_config(task="sequence-classification", num_labels=2), host)
    with pytest.raises(ConfigError, match="needs a masked-LM protein model"):
        score_variants(classifier, host.tokenizer(classifier.config), WILD_TYPE, ["K2R"])


def test_pseudo_log_likelihood(model, tokenizer, hf_model) -> None:
    result = pseudo_log_likelihood(model, tokenizer, Record("wt", WILD_TYPE))
    ids = tokenizer([Record("x", WILD_TYPE)]).ids[0, 1:-1]
    expected = [float(_hf_log_probs(hf_model, tokenizer, WILD_TYPE, i)[i, ids[i]]) for i in range(len(WILD_TYPE))]
    assert np.allclose(result.per_residue, expected, atol=1e-4)
    assert result.pll == pytest.approx(sum(expected), abs=1e-3)
    assert result.pseudo_perplexity == pytest.approx(np.exp(-sum(expected) / len(WILD_TYPE)), rel=1e-4)


def _run(host, args: list[str]) -> str:
    result = CliRunner().invoke(build_cli(host), args, obj=host, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_embed_variants_pll_contacts(host, imported, tmp_path) -> None:
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">wt\n{WILD_TYPE}\n>bad\nMK1\n>short\nGGSWL\n")
    out = tmp_path / "emb.h5"
    _run(host, ["protein", "embed", "--model", str(imported), "--input", str(fasta), "--output", str(out), "--per-residue"])
    with h5py.File(out) as results:
        assert [s.decode() for s in results["record_id"][:]] == ["wt", "bad", "short"]
        assert results["status"][:].tolist() == [0, 1, 0]
        assert [len(vectors) for vectors in results["token_embeddings"][:]] == [22 * 64, 0, 5 * 64]
        assert np.allclose(results["token_embeddings"][0].reshape(22, 64).mean(0), results["embedding"][0], atol=1e-5)
    table = _run(host, ["protein", "variants", "--model", str(imported), "--sequence", WILD_TYPE, "--mutations", "K2R", "--mutations", "A2G"])
    rows = list(csv.DictReader(io.StringIO(table)))
    assert rows[0]["mutant"] == "K2R" and rows[0]["masked-marginal"] and rows[1]["error"].startswith("mutation A2G")
    scan = tmp_path / "scan.csv"
    _run(host, ["protein", "variants", "--model", str(imported), "--fasta", str(fasta), "--scan", "--method", "wild-type-marginal", "--output", str(scan)])
    assert len(list(csv.DictReader(open(scan)))) == 19 * len(WILD_TYPE)  # noqa: SIM115
    likelihoods = _run(host, ["protein", "pll", "--model", str(imported), "--sequence", "MKV", "--sequence", "MK*"])
    lines = likelihoods.strip().splitlines()
    assert lines[0] == "record_id,length,pll,pseudo_perplexity,error" and lines[1].startswith("seq-1,3,") and "invalid character" in lines[2]
    maps = tmp_path / "maps"
    _run(host, ["protein", "contacts", "--model", str(imported), "--sequence", WILD_TYPE, "--out", str(maps)])
    contact_map = np.load(maps / "seq-1.npy")
    assert contact_map.shape == (22, 22) and np.allclose(contact_map, contact_map.T, atol=1e-6)
    assert ((contact_map > 0) & (contact_map < 1)).all() and (maps / "seq-1.png").stat().st_size > 0


def test_pll_of_a_model_without_a_masked_lm_head_writes_nothing(host, tmp_path) -> None:
    """The refusal comes before the CSV header, on standard output or in a file."""
    result = CliRunner().invoke(build_cli(host), ["protein", "pll", "--model", "esm2-deeploc-small", "--sequence", "MKV", "--output", str(tmp_path / "pll.csv")], obj=host)
    assert result.exit_code == 1 and "needs a masked-LM protein model" in result.stderr
    assert not (tmp_path / "pll.csv").exists() and result.stdout == ""
