"""Scoring new proteins with the shipped models: the label columns they were trained with are used when present, never required."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import pytest
from sciformer.checkpoint import read_checkpoint_info
from sciformer.errors import ConfigError
from sciformer.reader_options import inference_options
from sciformer.reading import read_records
from sciformer.scoring import score

DATA = Path(__file__).resolve().parents[1] / "data"


def subset(source: Path, out: Path, columns: list[str], count: int = 5) -> Path:
    """The first `count` rows of a shipped table with only `columns`."""
    with open(source, newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return out


@pytest.mark.parametrize("model, source", [("esm2-deeploc-small", "deeploc_sample.csv"), ("esm2-ss3-small", "netsurfp_sample.csv")])
def test_a_table_of_ids_and_sequences_scores(host, tmp_path: Path, model: str, source: str) -> None:
    """No `location` (or `ss3` / `resolved`) column: every record scores, named by the `id` column."""
    path = subset(DATA / source, tmp_path / "new.csv", ["id", "sequence"])
    summary = score(model, path, tmp_path / "out.h5", host)
    assert (summary.scored, summary.bad) == (5, 0)
    with h5py.File(tmp_path / "out.h5") as results, open(path, newline="") as handle:
        assert list(results["record_id"].asstr()[:]) == [row["id"] for row in csv.DictReader(handle)]


def test_the_label_column_is_used_when_present(host, tmp_path: Path) -> None:
    """With `location` in the table the records carry it as target, and the results file says so."""
    path = subset(DATA / "deeploc_sample.csv", tmp_path / "labelled.csv", ["id", "sequence", "location"])
    info = read_checkpoint_info(host.shipped_models()["esm2-deeploc-small"].path)
    targets = [r.target for r in read_records(host, "protein", path, inference_options(host, info, path))]
    with open(path, newline="") as handle:
        assert targets == [row["location"] for row in csv.DictReader(handle)]
    score("esm2-deeploc-small", path, tmp_path / "out.h5", host)
    with h5py.File(tmp_path / "out.h5") as results:
        assert json.loads(results.attrs["reader_options"])["model_columns"]["target_column"] == "location"


def test_residue_labels_and_their_mask_are_used_when_present(host, tmp_path: Path) -> None:
    """The ss3 model's `ss3` and `resolved` columns: masked residues get the model's unlabelled mark."""
    path = subset(DATA / "netsurfp_sample.csv", tmp_path / "labelled.csv", ["id", "sequence", "ss3", "resolved"], count=3)
    info = read_checkpoint_info(host.shipped_models()["esm2-ss3-small"].path)
    records = list(read_records(host, "protein", path, inference_options(host, info, path)))
    with open(path, newline="") as handle:
        for record, row in zip(records, csv.DictReader(handle)):
            assert record.target == "".join(label if flag == "1" else "." for label, flag in zip(row["ss3"], row["resolved"]))
    assert (score("esm2-ss3-small", path, tmp_path / "out.h5", host).bad) == 0


def test_options_the_reader_does_not_accept_are_refused(host, tmp_path: Path) -> None:
    """An unknown key names the accepted ones; `unlabelled` belongs to the model."""
    path = subset(DATA / "deeploc_sample.csv", tmp_path / "new.csv", ["id", "sequence"])
    with pytest.raises(ConfigError, match="does not accept option.s. bogus; it accepts: data_column, id_column, label_mask_column, layer, target_column$"):
        score("esm2-deeploc-small", path, tmp_path / "out.h5", host, options={"bogus": 1})
    with pytest.raises(ConfigError, match="option unlabelled of reader protein-table is a setting of the model"):
        score("esm2-deeploc-small", path, tmp_path / "out.h5", host, options={"unlabelled": "-"})
