"""Results in the formats people read: CSV / TSV / Parquet by suffix, pipes, agreement with labels."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.errors import OutputError
from sciformer.plugins import PluginHost
from sciformer.scoring import score, score_to

ROOT = Path(__file__).resolve().parents[1]
PROTEINS = ROOT / "plugins/protein/data"
MOLECULES = ROOT / "plugins/molecule/data/esol_sample.csv"
WEATHER = ROOT / "plugins/weather/data/era5_t2m_uk_48h.h5"
MODEL = "esm2-deeploc-small"
ENVIRONMENT = {**os.environ, "OMP_NUM_THREADS": "1"}


class Outcome(NamedTuple):
    """What a command did: exit status and its two streams."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def host() -> PluginHost:
    """Every installed plugin (the shipped protein, molecule and weather models)."""
    return PluginHost()


@pytest.fixture
def sciformer(host: PluginHost):
    """Run the CLI in-process; returns an Outcome."""

    def run(*arguments: str, stdin: bytes | None = None) -> Outcome:
        result = CliRunner().invoke(build_cli(host), list(arguments), obj=host, input=stdin)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def proteins(tmp_path: Path) -> Path:
    """Five DeepLoc proteins and a malformed one, as FASTA."""
    records = (PROTEINS / "deeploc_sample.fasta").read_text().split(">")[1:6]
    path = tmp_path / "proteins.fasta"
    path.write_text("".join(">" + record for record in records) + ">broken\nMK*LV\n")
    return path


def reference(host: PluginHost, inputs: Path, output: Path, **keywords) -> dict:
    """Scores of `inputs` in HDF5, with class names resolved."""
    score(MODEL, inputs, output, host, **keywords)
    with h5py.File(output) as results:
        labels = [str(label) for label in results["prediction"].attrs["labels"]]
        return {
            "ids": list(results["record_id"].asstr()[:]),
            "status": results["status"][:].tolist(),
            "error": list(results["error"].asstr()[:]),
            "labels": labels,
            "prediction": [labels[i] if i >= 0 else "" for i in results["prediction"][:]],
            "probabilities": results["probabilities"][:],
            "embedding": results["embedding"][:],
        }


def read_table(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def one_line(stderr: str) -> str:
    """The error of a refused run: exactly one line, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_csv_and_tsv_hold_one_row_per_record_with_class_names(sciformer, host, proteins, tmp_path) -> None:
    expected = reference(host, proteins, tmp_path / "reference.h5")
    for name, delimiter in (("out.csv", ","), ("out.tsv", "\t")):
        outcome = sciformer("score", "--model", MODEL, "--input", str(proteins), "--output", str(tmp_path / name))
        assert outcome.code == 0 and f"scored 5, bad 1 -> {tmp_path / name}" in outcome.stdout, outcome.stderr
        rows = read_table(tmp_path / name, delimiter)
        columns = list(rows[0])
        assert columns[:4] == ["id", "status", "error", "prediction"]
        assert [c for c in columns if c.startswith("probability_")] == [f"probability_{label}" for label in expected["labels"]]
        assert not any(c.startswith(("embedding", "logit")) for c in columns), "tables leave the embedding and logits out unless asked"
        assert [row["id"] for row in rows] == expected["ids"] and [int(row["status"]) for row in rows] == expected["status"]
        assert [row["prediction"] for row in rows] == expected["prediction"] and rows[-1]["prediction"] == ""
        assert rows[-1]["error"] == expected["error"][-1] and "invalid character '*'" in rows[-1]["error"]
        probabilities = np.array([[float(row[f"probability_{label}"]) for label in expected["labels"]] for row in rows[:-1]], dtype=np.float32)
        np.testing.assert_array_equal(probabilities, expected["probabilities"][:-1])  # shortest exact text of float32
        assert all(row[f"probability_{expected['labels'][0]}"] == "" for row in rows[-1:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.tsv", "proteins.fasta", "reference.h5"], "the working HDF5 is removed"


def test_embeddings_are_written_when_asked(sciformer, host, proteins, tmp_path) -> None:
    expected = reference(host, proteins, tmp_path / "reference.h5")
    outputs = ("--outputs", "prediction,probabilities,embedding")
    assert sciformer("score", "--model", MODEL, "--input", str(proteins), "--output", str(tmp_path / "out.csv"), *outputs).code == 0
    rows = read_table(tmp_path / "out.csv")
    vectors = np.array([[float(row[f"embedding_{i}"]) for i in range(128)] for row in rows[:-1]], dtype=np.float32)
    np.testing.assert_array_equal(vectors, expected["embedding"][:-1])
    assert "embedding_128" not in rows[0] and rows[-1]["embedding_0"] == ""
    assert sciformer("score", "--model", MODEL, "--input", str(proteins), "--output", str(tmp_path / "out.parquet"), *outputs).code == 0
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 6 and str(table.schema.field("embedding").type) == "fixed_size_list<element: float>[128]"
    assert str(table.schema.field("prediction").type) == "string" and table.column("prediction").to_pylist() == [*expected["prediction"][:-1], None]
    np.testing.assert_array_equal(np.array(table.column("embedding").to_pylist()[:-1], dtype=np.float32), expected["embedding"][:-1])
    assert table.column("embedding").to_pylist()[-1] is None and table.column("status").to_pylist() == expected["status"]
    provenance = json.loads(table.schema.metadata[b"sciformer"])
    assert provenance["summary"]["scored"] == 5 and provenance["plugin"] == "protein"


def test_an_unknown_suffix_is_refused_naming_the_accepted_ones(sciformer, proteins, tmp_path) -> None:
    for name in ("out.xlsx", "results"):
        outcome = sciformer("score", "--model", MODEL, "--input", str(proteins), "--output", str(tmp_path / name))
        line = one_line(outcome.stderr)
        assert outcome.code == 1 and "accepted suffixes are .h5, .hdf5, .csv, " in line and "- for CSV on standard output" in line, line
        assert all(suffix in line for suffix in (".parquet", ".tsv")), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proteins.fasta"]


def test_standard_input_to_standard_output_through_a_pipe(proteins, tmp_path) -> None:
    """Enough rows to fill the pipe, so `head` closes it while the table is still being written."""
    many = tmp_path / "many.fasta"
    many.write_text(proteins.read_text() * 40)
    command = f"set -o pipefail; cat {many} | {sys.executable} -m sciformer score --model {MODEL} --input - --output - --outputs prediction,embedding | head -2"
    completed = subprocess.run(["bash", "-c", command], env=ENVIRONMENT, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("id,status,error,prediction,embedding_0,") and lines[1].startswith("B3A0S3,0,")
    assert "Traceback" not in completed.stderr and "BrokenPipe" not in completed.stderr, completed.stderr
    assert "scored 200, bad 40 -> standard output" in completed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.fasta", "proteins.fasta"]


def test_standard_input_is_read_as_the_format_named_and_refuses_resume(sciformer, tmp_path) -> None:
    table = (PROTEINS / "deeploc_sample.csv").read_text().splitlines()
    stdin = ("\n".join(table[:4]) + "\n").encode()
    arguments = ("score", "--model", MODEL, "--input", "-", "--output", str(tmp_path / "out.csv"))
    outcome = sciformer(*arguments, "--format", "csv", "--option", "target_column=location", stdin=stdin)
    assert outcome.code == 0 and "scored 3, bad 0" in outcome.stdout and "on 3 labelled records" in outcome.stdout, outcome.stderr
    assert [row["id"] for row in read_table(tmp_path / "out.csv")] == [line.split(",")[0] for line in table[1:4]]
    refused = sciformer(*arguments, "--overwrite", "--resume", stdin=stdin)
    assert refused.code == 1 and "--resume cannot continue a run that read standard input" in one_line(refused.stderr)
    refused = sciformer(*arguments, "--overwrite", "--format", "xlsx", stdin=stdin)
    assert refused.code == 1 and "--format xlsx is not a format of domain 'protein'" in one_line(refused.stderr)
    refused = sciformer("score", "--model", MODEL, "--input", str(PROTEINS / "deeploc_sample.fasta"), "--output", "-", "--resume")
    assert refused.code == 1 and "--resume needs an output file" in one_line(refused.stderr)


def test_standard_input_with_a_byte_order_mark_is_still_fasta(sciformer, tmp_path) -> None:
    """A UTF-8 byte-order mark before '>' does not turn wrapped FASTA into one record per line."""
    stdin = "\ufeff>P1 first\nMKVLAAGIVG\nLLLAMKV\n>P2\nMKKK\n".encode()
    outcome = sciformer("score", "--model", MODEL, "--input", "-", "--output", str(tmp_path / "out.csv"), stdin=stdin)
    assert outcome.code == 0 and "scored 2, bad 0" in outcome.stdout, outcome.stdout + outcome.stderr
    assert [row["id"] for row in read_table(tmp_path / "out.csv")] == ["P1", "P2"]


def test_the_summary_reports_accuracy_on_labelled_records(sciformer, host, tmp_path) -> None:
    table = tmp_path / "labelled.csv"
    lines = (PROTEINS / "deeploc_sample.csv").read_text().splitlines()
    table.write_text("\n".join([*lines[:7], "broken,Nucleus,U,MK*LV"]) + "\n")
    outcome = sciformer("score", "--model", MODEL, "--input", str(table), "--output", str(tmp_path / "out.h5"), "--option", "target_column=location")
    with h5py.File(tmp_path / "out.h5") as results:
        labels = [str(label) for label in results["prediction"].attrs["labels"]]
        predicted = [labels[i] for i in results["prediction"][:6]]
        stored = json.loads(results.attrs["summary"])["agreement"]
    truth = [line.split(",")[1] for line in lines[1:7]]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth)])
    assert stored == {"metric": "accuracy", "value": round(accuracy, 6), "records": 6}
    assert outcome.code == 0 and f"scored 6, bad 1 -> {tmp_path / 'out.h5'}" in outcome.stdout
    assert outcome.stdout.rstrip().endswith(f"; accuracy {accuracy:.3f} on 6 labelled records"), outcome.stdout
    plain = sciformer("score", "--model", MODEL, "--input", str(PROTEINS / "deeploc_sample.fasta"), "--output", str(tmp_path / "plain.h5"))
    assert plain.code == 0 and "labelled" not in plain.stdout


def test_agreement_of_a_resumed_run_equals_one_run(host, tmp_path) -> None:
    options = {"target_column": "logS"}
    whole = score("mat-esol-small", MOLECULES, tmp_path / "whole.h5", host, options=options)
    stopped = score("mat-esol-small", MOLECULES, tmp_path / "parts.h5", host, options=options, chunk_records=8, time_limit=0.0)
    resumed = score("mat-esol-small", MOLECULES, tmp_path / "parts.h5", host, options=options, chunk_records=8, resume=True)
    with h5py.File(tmp_path / "whole.h5") as results:
        predicted = results["prediction"][:].astype(np.float64)
    truth = np.array([float(line.split(",")[1]) for line in MOLECULES.read_text().splitlines()[1:]])
    rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    assert whole.agreement["metric"] == "rmse" and whole.agreement["records"] == 50 and abs(whole.agreement["value"] - rmse) < 1e-5
    assert stopped.stopped and stopped.agreement["records"] == 8
    assert resumed.agreement == whole.agreement and "RMSE" in resumed.agreement_text()


def test_the_summary_reports_a_forecasters_rmse_per_lead(sciformer, tmp_path) -> None:
    outcome = sciformer("score", "--model", "afno-era5-uk-t2m", "--input", str(WEATHER), "--output", str(tmp_path / "t2m.h5"), "--option", "leads=1,6")
    with h5py.File(tmp_path / "t2m.h5") as results:
        rmse = results["skill/rmse_model"][:, 0]
    assert outcome.code == 0 and outcome.stdout.rstrip().endswith(f"; RMSE per lead: t2m 1 h {rmse[0]:.3g}, 6 h {rmse[1]:.3g}"), outcome.stdout


def test_a_stopped_table_run_resumes_from_its_hidden_hdf5(host, proteins, tmp_path) -> None:
    target = tmp_path / "out.csv"
    stopped = score_to(MODEL, proteins, target, host, chunk_records=2, time_limit=0.0)
    assert stopped.stopped and stopped.output == target
    assert [row["status"] for row in read_table(target)] == ["0", "0", "2", "2", "2", "2"]
    assert (tmp_path / ".out.csv.h5").is_file() and (tmp_path / ".out.csv.h5.chunks").is_dir()
    with pytest.raises(OutputError, match="pass --resume to continue it") as refused:
        score_to(MODEL, proteins, target, host, chunk_records=2)
    assert str(target) in str(refused.value) and ".out.csv.h5" not in str(refused.value)  # the user's name, not the working file's
    with pytest.raises(OutputError, match=f"cannot resume {target}: changed since the run that began it: chunk_records"):
        score_to(MODEL, proteins, target, host, chunk_records=3, resume=True)
    resumed = score_to(MODEL, proteins, target, host, chunk_records=2, resume=True)
    assert (resumed.scored, resumed.bad, resumed.stopped) == (5, 1, None)
    assert [row["status"] for row in read_table(target)] == ["0", "0", "0", "0", "0", "1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "proteins.fasta"]
    with pytest.raises(OutputError, match="cannot resume .*out.csv: it is finished"):
        score_to(MODEL, proteins, target, host, chunk_records=2, resume=True)
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        score_to(MODEL, proteins, target, host, chunk_records=2)
