"""`sciformer score` on the command line (in-process; real processes where the case is about processes):
what it refuses, in one line, before any work, and what it writes for inputs that give nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.cli.main import build_cli
from sciformer.errors import CheckpointError, ConfigError
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer.scoring import score
from sciformer.scoring.pipeline import NON_FINITE, score_chunk
from sciformer.testing.results import assert_same_results

MODEL = "text-who-ordered"
ENVIRONMENT = {**os.environ, "SCIFORMER_PLUGINS": "", "OMP_NUM_THREADS": "1"}
WORDS = ["<start>", "man", "woman", "ordered", "the", "chicken", "beef"]


def sciformer(*arguments: str, cwd: Path | None = None) -> Outcome:
    """Run the CLI in-process (only the built-in plugins), from `cwd` when given."""
    host = PluginHost(entry_points=False)
    previous = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(build_cli(host), list(arguments), obj=host)
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


class Outcome(NamedTuple):
    """What a command did: exit status and its two streams."""

    returncode: int
    stdout: str
    stderr: str


def one_line(stderr: str) -> str:
    """The error of a refused run: exactly one line, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def write_lines(path: Path, count: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(1, 8))) for _ in range(count)) + "\n")
    return path


WHEN_A_CHUNK_EXISTS = """
import sys, time
from pathlib import Path
from sciformer.cli.main import main
print("ready", flush=True)
while not any(Path(sys.argv[1]).glob("chunk-*.h5")):
    time.sleep(0.005)
main(sys.argv[2:])
"""


def test_two_runs_on_one_output(tmp_path) -> None:
    """The second run is refused in one line naming the first's process; the first's file holds only its rows."""
    first_input, other_input = write_lines(tmp_path / "a.txt", 40_000), write_lines(tmp_path / "b.txt", 3_000, seed=1)
    target = tmp_path / "o.h5"
    arguments = ["score", "--model", MODEL, "--input", str(other_input), "--output", str(target), "--overwrite"]
    # The second command line starts first, imported and waiting, and runs the moment the first run has
    # written a chunk: the overlap does not depend on how fast either process starts.
    second = subprocess.Popen([sys.executable, "-c", WHEN_A_CHUNK_EXISTS, str(tmp_path / "o.h5.chunks"), *arguments], env=ENVIRONMENT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert second.stdout.readline() == "ready\n"
    first = subprocess.Popen([sys.executable, "-m", "sciformer", "score", "--model", MODEL, "--input", str(first_input), "--output", str(target), "--chunk-records", "500"], env=ENVIRONMENT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, refusal = second.communicate(timeout=600)
    assert second.returncode == 1
    assert f"is being written by another run (pid {first.pid} " in one_line(refusal)
    _, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr
    score(MODEL, first_input, tmp_path / "alone.h5", _host(), chunk_records=500)
    assert_same_results(tmp_path / "alone.h5", target)
    assert not (tmp_path / "o.h5.lock").exists(), "a finished run removes its lock file"


def test_rerun_after_a_crash_is_refused_and_resume_on_a_finished_file_has_nothing_to_do(tmp_path) -> None:
    inputs = write_lines(tmp_path / "in.txt", 300)
    target = tmp_path / "o.h5"
    arguments = ("score", "--model", MODEL, "--input", str(inputs), "--output", str(target), "--chunk-records", "50")
    crashed = sciformer(*arguments, "--time-limit", "0")  # leaves its chunk folder, as a crash would
    assert crashed.returncode == 3
    again = sciformer(*arguments)
    assert again.returncode == 1
    message = one_line(again.stderr)
    assert "has already scored 50 record(s)" in message and "--resume" in message and "--overwrite" in message
    assert len(list((tmp_path / "o.h5.chunks").glob("chunk-*.h5"))) == 1, "the finished chunk is kept"
    assert sciformer(*arguments, "--resume").returncode == 0
    before = target.stat().st_mtime_ns
    finished = sciformer(*arguments, "--resume")
    assert finished.returncode == 0 and "already complete (300 scored, 0 bad): nothing to do" in finished.stdout, finished.stderr
    assert target.stat().st_mtime_ns == before


def test_resume_compares_the_manifest_not_the_path(tmp_path) -> None:
    """Replaced contents or another dtype are refused, naming what changed; the same file by another
    spelling of its path resumes."""
    inputs = write_lines(tmp_path / "in.txt", 300)
    arguments = ("score", "--model", MODEL, "--output", "o.h5", "--chunk-records", "50")
    assert sciformer(*arguments, "--input", "in.txt", "--time-limit", "0", cwd=tmp_path).returncode == 3
    bfloat = sciformer(*arguments, "--input", "in.txt", "--resume", "--dtype", "bfloat16", cwd=tmp_path)
    assert "dtype ('float32' -> 'bfloat16')" in one_line(bfloat.stderr)
    (tmp_path / "sub").mkdir()
    assert sciformer(*arguments[:-4], "--output", "../o.h5", "--chunk-records", "50", "--input", str(inputs), "--resume", cwd=tmp_path / "sub").returncode == 0
    write_lines(inputs, 300, seed=5)  # same path and size class, other contents
    assert sciformer(*arguments, "--input", "./in.txt", "--overwrite", "--time-limit", "0", cwd=tmp_path).returncode == 3
    write_lines(inputs, 300, seed=6)
    replaced = sciformer(*arguments, "--input", "in.txt", "--resume", cwd=tmp_path)
    assert replaced.returncode == 1 and "input.fingerprint" in one_line(replaced.stderr)


@pytest.mark.parametrize(("option", "value"), [("--chunk-records", "0"), ("--chunk-records", "-5"), ("--batch-tokens", "0"), ("--workers", "-1"), ("--time-limit", "-1"), ("--threads", "0")])
def test_numbers_are_validated_before_any_work(tmp_path, option, value) -> None:
    inputs = write_lines(tmp_path / "in.txt", 10)
    arguments = ["score", "--model", MODEL, "--input", str(inputs), "--output", str(tmp_path / "o.h5"), option, value]
    completed = sciformer(*([option, value, *arguments[:-2]] if option == "--threads" else arguments))
    assert completed.returncode == 2 and f"Invalid value for '{option}'" in completed.stderr
    assert list(tmp_path.iterdir()) == [inputs]


def test_python_api_validates_numbers(tmp_path) -> None:
    inputs = write_lines(tmp_path / "in.txt", 10)
    for keyword in ({"chunk_records": 0}, {"batch_tokens": -1}, {"workers": -2}, {"time_limit": float("nan")}):
        with pytest.raises(ConfigError):
            score(MODEL, inputs, tmp_path / "o.h5", _host(), **keyword)


@pytest.mark.parametrize("name", ["empty.txt", "header-only.csv", "zero-bytes.csv"])
def test_an_empty_input_gives_a_valid_empty_file(tmp_path, name) -> None:
    inputs = tmp_path / name
    inputs.write_text("text\n" if name == "header-only.csv" else "")
    options = ("--option", "data_column=text") if name.endswith(".csv") else ()
    completed = sciformer("score", "--model", MODEL, "--input", str(inputs), "--output", str(tmp_path / "o.h5"), *options, "--outputs", "embedding,token_embeddings")
    assert completed.returncode == 0, completed.stderr
    assert "holds no records" in completed.stderr and "scored 0, bad 0" in completed.stdout
    with h5py.File(tmp_path / "o.h5") as results:
        assert sorted(results) == ["embedding", "error", "record_id", "status", "token_embeddings"]
        assert results["status"].shape == (0,) and results["embedding"].shape == (0, 32)
        assert results["token_embeddings"].dtype.metadata["vlen"] == np.float32
        assert results.attrs["complete"] == 1 and json.loads(results.attrs["summary"])["scored"] == 0
        assert "checkpoint_sha256" in results.attrs and "run_manifest" in results.attrs


def test_unusable_outputs_are_refused_before_any_work(tmp_path) -> None:
    inputs = write_lines(tmp_path / "in.txt", 10)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    cases = {
        str(tmp_path / "folder"): "is a folder",
        str(tmp_path / "file" / "o.h5"): "is not a folder",
        "/proc/sciformer-test/o.h5": "cannot create the folder of output",
    }
    for output, expected in cases.items():
        completed = sciformer("score", "--model", MODEL, "--input", str(inputs), "--output", output)
        assert completed.returncode == 1 and expected in one_line(completed.stderr), completed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder", "in.txt"]
    assert not list((tmp_path / "folder").iterdir())


def test_the_input_file_is_never_the_output(tmp_path) -> None:
    """--output naming the input (by its own name, another path or a link) is refused even with --overwrite; the input stays."""
    inputs = write_lines(tmp_path / "in.txt", 10)
    table = tmp_path / "in.csv"
    table.write_text("text\nthe man ordered\nthe woman ordered\n")
    (tmp_path / "link.txt").symlink_to(inputs)
    before = inputs.read_bytes(), table.read_bytes()
    for source, output in ((inputs, inputs), (inputs, tmp_path / "." / "link.txt"), (table, table)):
        completed = sciformer("score", "--model", MODEL, "--input", str(source), "--output", str(output), "--overwrite")
        assert completed.returncode == 1 and "is the input file" in one_line(completed.stderr), completed.stderr
    assert (inputs.read_bytes(), table.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.txt", "link.txt"]


def test_a_checkpoint_with_a_non_finite_weight_is_refused(tmp_path, text_config) -> None:
    host = _host()
    save_checkpoint(build_model(text_config, host), tmp_path / "model", host)
    weights = load_file(tmp_path / "model" / "model.safetensors")
    name = sorted(weights)[3]
    weights[name].view(-1)[0] = float("nan")
    save_file(weights, tmp_path / "model" / "model.safetensors")
    completed = sciformer("score", "--model", str(tmp_path / "model"), "--input", str(write_lines(tmp_path / "in.txt", 5)), "--output", str(tmp_path / "o.h5"))
    assert completed.returncode == 1 and f"tensor {name!r} holds 1 non-finite value(s)" in one_line(completed.stderr)
    with pytest.raises(CheckpointError, match="non-finite"):
        score(tmp_path / "model", tmp_path / "in.txt", tmp_path / "o.h5", host)


def test_a_row_with_non_finite_output_is_bad_never_scored(text_config) -> None:
    """A record whose forward pass gives NaN or infinity is status 1 with the reason; the others are scored."""
    host = _host()
    model = build_model(text_config, host).eval()
    tokenizer = host.tokenizer(text_config)
    with torch.no_grad():
        model.embedder.token_embedding.weight[int(tokenizer.encode(Record("x", "beef"))[0][-1])] = float("inf")
    records = [Record("1", "the man ordered"), Record("2", "the woman ordered the beef"), Record("3", "chicken")]
    columns, _ = score_chunk(model, tokenizer, records, batch_tokens=4096, dtype="float32")
    assert list(columns["status"]) == [0, 1, 0] and columns["error"][1] == NON_FINITE
    assert np.isfinite(columns["embedding"][[0, 2]]).all() and np.isnan(columns["embedding"][1]).all()


def _host() -> PluginHost:
    return PluginHost(entry_points=False)
