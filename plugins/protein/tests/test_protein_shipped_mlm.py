"""The shipped masked-LM model: the protein tools run on it, and its contact regression is stored."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
from click.testing import CliRunner
from sciformer.checkpoint import read_checkpoint_info
from sciformer.cli.main import build_cli

UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


def _run(host, arguments: list[str]) -> str:
    result = CliRunner().invoke(build_cli(host), arguments, obj=host, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_shipped_mlm_is_a_masked_lm_with_a_fitted_contact_regression(host) -> None:
    shipped = host.shipped_models()["esm2-mlm-small"]
    info = read_checkpoint_info(shipped.path)
    assert info.config.task == "mlm" and info.config.option("contact_head")
    fit = info.extra["contact_regression"]
    assert "4CUP_A" not in fit["fitted_on"] and fit["precision"]["4CUP_A"]["held_out"] == 1.0
    assert sum(f.stat().st_size for f in shipped.path.iterdir()) < 5_000_000
    summary = json.loads((shipped.path / "summary.json").read_text())
    assert summary["records"]["train"] > 3000 and summary["records"]["test"] == 0


def test_pll_variants_and_contacts_run_on_the_shipped_mlm(host, tmp_path) -> None:
    rows = list(csv.DictReader(io.StringIO(_run(host, ["protein", "pll", "--model", "esm2-mlm-small", "--sequence", UBIQUITIN]))))
    assert len(rows) == 1 and rows[0]["length"] == str(len(UBIQUITIN)) and 1 < float(rows[0]["pseudo_perplexity"]) < 33
    scores = list(csv.DictReader(io.StringIO(_run(host, ["protein", "variants", "--model", "esm2-mlm-small", "--sequence", UBIQUITIN, "--mutations", "I3V", "--mutations", "K6R:L8A"]))))
    assert [r["mutant"] for r in scores] == ["I3V", "K6R:L8A"] and all(np.isfinite(float(r["masked-marginal"])) for r in scores)
    _run(host, ["protein", "contacts", "--model", "esm2-mlm-small", "--sequence", UBIQUITIN, "--out", str(tmp_path)])
    probabilities = np.load(tmp_path / "seq-1.npy")
    assert probabilities.shape == (len(UBIQUITIN),) * 2 and ((probabilities >= 0) & (probabilities <= 1)).all()
