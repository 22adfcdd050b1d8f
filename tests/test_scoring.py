"""Batch scoring: layout, bad records, order, batch invariance, file-level errors, no half-written files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml
from sciformer.errors import InputFileError, OutputError, PluginError
from sciformer.scoring import score
from sciformer.testing.results import assert_same_results
from sciformer.training.recipe import train_recipe


@pytest.fixture
def classifier(host, tmp_path_factory, write_recipe):
    """A small trained text classifier and the table it scores."""
    folder = tmp_path_factory.mktemp("classifier")
    table = folder / "orders.csv"
    rows = ["id,text,label", *[f"m{i},<start> man ordered the chicken,chicken" for i in range(3)], *[f"w{i},<start> woman ordered the beef,beef" for i in range(3)]]
    table.write_text("\n".join(rows) + "\n")
    recipe = write_recipe(folder, training={"max_steps": 20, "eval_every": 10})
    raw = yaml.safe_load(recipe.read_text())
    raw["model"] = {**raw["model"], "task": "sequence-classification", "causal": False}
    raw["data"] = {"train": str(table), "valid": str(table), "options": {"target_column": "label", "id_column": "id"}}
    recipe.write_text(yaml.safe_dump(raw))
    return train_recipe(recipe, host).output, folder


def test_layout_status_and_order(host, classifier, tmp_path) -> None:
    model_dir, _folder = classifier
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("<start> man ordered the chicken\n\n<start> woman ordered the beef the beef the beef the beef\n<start> woman ordered the beef\n")
    summary = score(model_dir, inputs, tmp_path / "out.h5", host, batch_tokens=6)
    assert (summary.scored, summary.bad) == (2, 1)
    with h5py.File(tmp_path / "out.h5") as results:
        assert results["embedding"].shape == (3, 32) and results["embedding"].dtype == np.float32
        assert list(results["record_id"].asstr()[:]) == ["1", "3", "4"]
        assert list(results["prediction"].attrs["labels"]) == ["beef", "chicken"]
        assert list(results["status"][:]) == [0, 1, 0]
        assert results["error"].asstr()[1] == "11 words exceed the model's limit of 8"
        assert list(results["prediction"][:]) == [1, -1, 0]
        assert np.allclose(results["probabilities"][[0, 2]].sum(axis=1), 1.0, atol=1e-5)
        attributes = dict(results.attrs)
        assert json.loads(attributes["model_config"])["task"] == "sequence-classification"
        assert len(attributes["checkpoint_sha256"]) == 64 and attributes["plugin"] == "text"
        assert json.loads(attributes["summary"])["scored"] == 2 and json.loads(attributes["summary"])["bad"] == 1


def test_bad_records_are_marked_and_the_rest_scored(host, classifier, tmp_path) -> None:
    model_dir, _ = classifier
    table = tmp_path / "mixed.csv"
    table.write_text('text,label\n<start> man ordered the chicken,x\n"   ",x\n<start> woman ordered the beef,x\n')
    score(model_dir, table, tmp_path / "out.h5", host, options={"target_column": None, "id_column": None})
    with h5py.File(tmp_path / "out.h5") as results:
        assert list(results["status"][:]) == [0, 1, 0]
        assert results["error"].asstr()[1] == "empty text"
        assert np.isnan(results["embedding"][1]).all() and not np.isnan(results["embedding"][[0, 2]]).any()
        assert results["prediction"][1] == -1


def test_scores_do_not_depend_on_batching(host, classifier, tmp_path) -> None:
    model_dir, _ = classifier
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("<start> man ordered the chicken\n<start> woman\nthe beef the beef the beef ordered\nman" + "\n")
    score(model_dir, inputs, tmp_path / "one.h5", host, batch_tokens=1)
    score(model_dir, inputs, tmp_path / "all.h5", host, batch_tokens=10_000)
    with h5py.File(tmp_path / "one.h5") as one, h5py.File(tmp_path / "all.h5") as together:
        assert np.allclose(one["embedding"][:], together["embedding"][:], atol=1e-5)
        assert np.allclose(one["logits"][:], together["logits"][:], atol=1e-5)


def test_file_level_problems_stop_before_work(host, classifier, tmp_path) -> None:
    model_dir, folder = classifier
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("man\n")
    with pytest.raises(InputFileError, match="input not found"):
        score(model_dir, tmp_path / "missing.txt", tmp_path / "out.h5", host)
    with pytest.raises(PluginError, match=r"no reader for \.fasta files in domain 'text'"):
        (tmp_path / "x.fasta").write_text(">a\nMK\n")
        score(model_dir, tmp_path / "x.fasta", tmp_path / "out.h5", host)
    with pytest.raises(InputFileError, match="column"):
        score(model_dir, folder / "orders.csv", tmp_path / "out.h5", host, options={"data_column": "sequence"})
    (tmp_path / "exists.h5").write_bytes(b"")
    with pytest.raises(OutputError, match="--overwrite"):
        score(model_dir, inputs, tmp_path / "exists.h5", host)
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.chunks")) and not (tmp_path / "out.h5").exists()


def test_unknown_domain_of_a_checkpoint(host, classifier, tmp_path) -> None:
    model_dir, _ = classifier
    meta = json.loads((model_dir / "config.json").read_text())
    meta["model"]["domain"] = "seismology"
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(meta))
    (tmp_path / "ckpt" / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    (tmp_path / "in.txt").write_text("man\n")
    with pytest.raises(PluginError, match="no installed plugin serves domain 'seismology'"):
        score(tmp_path / "ckpt", tmp_path / "in.txt", tmp_path / "out.h5", host)


def _lines(path, count: int) -> None:
    words = ["<start>", "man", "woman", "ordered", "the", "chicken", "beef"]
    rng = np.random.default_rng(0)
    path.write_text("\n".join(" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(count)) + "\n")


def test_workers_and_token_outputs_match_inline_scoring(host, classifier, tmp_path) -> None:
    model_dir, _ = classifier
    inputs = tmp_path / "in.txt"
    _lines(inputs, 300)
    outputs = ["embedding", "prediction", "token_embeddings"]
    score(model_dir, inputs, tmp_path / "inline.h5", host, outputs=outputs, chunk_records=64)
    score(model_dir, inputs, tmp_path / "workers.h5", host, outputs=outputs, chunk_records=64, workers=2)
    assert_same_results(tmp_path / "inline.h5", tmp_path / "workers.h5")
    with h5py.File(tmp_path / "inline.h5") as results:
        assert results["token_embeddings"].attrs["dim"] == 32
        assert len(results["token_embeddings"][0]) % 32 == 0 and len(results["token_embeddings"][0]) > 0


def test_token_outputs_of_equal_lengths_join_into_one_file(host, classifier, tmp_path) -> None:
    """Chunks whose variable-length rows all have the same length join like any other (h5py reads them
    back as one 2-D array)."""
    model_dir, _ = classifier
    inputs = tmp_path / "same.txt"
    inputs.write_text("the man ordered the chicken\n" * 30)
    score(model_dir, inputs, tmp_path / "same.h5", host, outputs=["embedding", "token_embeddings"], chunk_records=10)
    with h5py.File(tmp_path / "same.h5") as results:
        rows = results["token_embeddings"][:]
        assert len(rows) == 30 and len({len(row) for row in rows}) == 1 and len(rows[0]) > 0
        assert all(np.array_equal(row, rows[0]) for row in rows)


def _uninterrupted_cli_run(model_dir, tmp_path) -> tuple[list[str], dict[str, str]]:
    """Score 40,000 lines with the CLI into `full.h5`; returns the command (without --output) and environment."""
    inputs = tmp_path / "in.txt"
    _lines(inputs, 40_000)
    command = [sys.executable, "-m", "sciformer", "score", "--model", str(model_dir), "--input", str(inputs), "--chunk-records", "500", "--workers", "0"]
    environment = {**os.environ, "SCIFORMER_PLUGINS": ""}
    subprocess.run([*command, "--output", str(tmp_path / "full.h5")], check=True, env=environment, capture_output=True)
    return command, environment


def _paused(command: list[str], environment: dict[str, str], chunk: int) -> subprocess.Popen:
    """A CLI scoring run started with SCIFORMER_PAUSE_AFTER_CHUNK=`chunk`, returned once it has written that chunk and waits."""
    process = subprocess.Popen(command, env={**environment, "SCIFORMER_PAUSE_AFTER_CHUNK": str(chunk)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not any(line.startswith(f"sciformer: paused after chunk {chunk} ") for line in iter(process.stderr.readline, "")):
        process.kill()
        pytest.fail(f"the run ended (exit {process.wait()}) without pausing after chunk {chunk}")
    return process


def test_resume_after_kill_equals_an_uninterrupted_run(classifier, tmp_path) -> None:
    """A real scoring process killed with SIGKILL after its 10th chunk, then resumed, gives the uninterrupted file."""
    command, environment = _uninterrupted_cli_run(classifier[0], tmp_path)
    target = tmp_path / "killed.h5"
    process = _paused([*command, "--output", str(target)], environment, chunk=9)
    process.kill()
    process.communicate()
    assert not target.exists(), "a killed run must not leave a file under the final name"
    resumed = subprocess.run([*command, "--output", str(target), "--resume"], env=environment, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "scored 40000, bad 0" in resumed.stdout
    assert "this run processed 35000 " in resumed.stdout, "the resumed run must only score the 70 chunks left"
    assert_same_results(tmp_path / "full.h5", target)


def test_time_limit_marks_unscored_records_and_resume_finishes(host, classifier, tmp_path) -> None:
    """A run out of time writes every record, those not reached as status 2; --resume completes it."""
    model_dir, _ = classifier
    inputs = tmp_path / "in.txt"
    _lines(inputs, 300)
    score(model_dir, inputs, tmp_path / "full.h5", host, chunk_records=50)
    target = tmp_path / "limited.h5"
    stopped = score(model_dir, inputs, target, host, chunk_records=50, time_limit=0.0)
    assert (stopped.scored, stopped.pending, stopped.stopped) == (50, 250, "time limit")
    with h5py.File(target) as results, h5py.File(tmp_path / "full.h5") as full:
        assert results.attrs["complete"] == 0 and full.attrs["complete"] == 1
        assert list(results["record_id"].asstr()[:]) == list(full["record_id"].asstr()[:])
        status = results["status"][:]
        assert (status[:50] == 0).all() and (status[50:] == 2).all()
        assert np.isnan(results["embedding"][50:]).all() and (results["prediction"][50:] == -1).all()
        assert np.array_equal(results["embedding"][:50], full["embedding"][:50])
        assert json.loads(results.attrs["summary"])["pending"] == 250
    assert (tmp_path / "limited.h5.chunks").is_dir() and not list((tmp_path / "limited.h5.chunks").glob("pending-*"))
    with pytest.raises(OutputError, match="has already scored 50 record"):
        score(model_dir, inputs, target, host, chunk_records=50)
    resumed = score(model_dir, inputs, target, host, chunk_records=50, resume=True)
    assert (resumed.scored, resumed.pending, resumed.processed, resumed.stopped) == (300, 0, 250, None)
    assert_same_results(tmp_path / "full.h5", target)
    assert not (tmp_path / "limited.h5.chunks").exists()


def test_sigterm_stops_a_real_run_with_pending_records(classifier, tmp_path) -> None:
    """SIGTERM (a scheduler's wall time) stops a real run: exit status 3, a complete-shaped file whose
    unscored rows have status 2, and --resume gives the uninterrupted file."""
    command, environment = _uninterrupted_cli_run(classifier[0], tmp_path)
    target = tmp_path / "stopped.h5"
    process = _paused([*command, "--output", str(target)], environment, chunk=4)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    assert "stopped early (SIGTERM)" in stderr
    with h5py.File(target) as results:
        status = results["status"][:]
        assert len(status) == 40_000 and results.attrs["complete"] == 0
        assert (status[:2_500] == 0).all() and (status[2_500:] == 2).all(), "the five chunks written before the signal are kept"
        assert np.isnan(results["embedding"][2_500:]).all()
    resumed = subprocess.run([*command, "--output", str(target), "--resume"], env=environment, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "this run processed 37500 " in resumed.stdout
    assert_same_results(tmp_path / "full.h5", target)


def test_two_processes_give_the_single_process_file(classifier, tmp_path) -> None:
    """torchrun with 2 CPU processes (gloo) shards the records and writes one identical file."""
    model_dir, _ = classifier
    inputs = tmp_path / "in.txt"
    _lines(inputs, 1000)
    arguments = ["score", "--model", str(model_dir), "--input", str(inputs), "--chunk-records", "100", "--workers", "0"]
    environment = {**os.environ, "SCIFORMER_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "sciformer", *arguments, "--output", str(tmp_path / "one.h5")], check=True, env=environment, capture_output=True)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "sciformer", *arguments, "--output", str(tmp_path / "two.h5")]
    completed = subprocess.run(launch, env=environment, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert_same_results(tmp_path / "one.h5", tmp_path / "two.h5")
    assert not list(tmp_path.glob("two.h5.*"))
    assert completed.stdout.count("scored 1000, bad 0") == 1, "only rank 0 reports"
    limited = [*launch[:-1], str(tmp_path / "limited.h5"), "--time-limit", "0"]
    stopped = subprocess.run(limited, env=environment, capture_output=True, text=True, timeout=600)
    assert stopped.returncode != 0 and "stopped early (time limit): 800 record(s) not yet scored" in stopped.stderr, stopped.stderr[-3000:]
    with h5py.File(tmp_path / "limited.h5") as results:
        assert list(np.unique(results["status"][:200])) == [0] and list(np.unique(results["status"][200:])) == [2], "each rank scores one chunk"
    resumed = subprocess.run([sys.executable, "-m", "sciformer", *arguments, "--output", str(tmp_path / "limited.h5"), "--resume"], env=environment, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_results(tmp_path / "one.h5", tmp_path / "limited.h5")


def test_head_columns_include_per_token_classes(host, text_config, tmp_path) -> None:
    """A token-classification head contributes `token_predictions`, one class per pooled token."""
    from sciformer.build import build_model
    from sciformer.checkpoint import save_checkpoint

    config = text_config.replace(task="token-classification", num_labels=3, labels=("H", "E", "C"))
    save_checkpoint(build_model(config, host), tmp_path / "model", host)
    inputs = tmp_path / "in.txt"
    inputs.write_text("the man ordered the chicken\nbeef\n")
    score(tmp_path / "model", inputs, tmp_path / "out.h5", host)
    with h5py.File(tmp_path / "out.h5") as results:
        predictions = results["token_predictions"]
        assert [len(row) for row in predictions[:]] == [5, 1]
        assert all(0 <= value < 3 for row in predictions[:] for value in row)
        assert list(predictions.attrs["labels"]) == ["H", "E", "C"]
        assert "embedding" in results and "logits" not in results


def test_encodings_cross_the_worker_boundary_unchanged() -> None:
    """Chunks are split evenly across workers and merged back in order; tensors travel as arrays and come
    back as tensors, while a tokenizer's own numpy arrays stay arrays."""
    from typing import NamedTuple

    import torch
    from sciformer.records import Record
    from sciformer.scoring.encoding import EncodedChunk, PackedTensor, _pack, _unpack, map_leaves, merge, split

    class Encoding(NamedTuple):
        ids: torch.Tensor
        extras: dict

    records = [Record(str(i), "x") for i in range(7)]
    assert [len(part) for part in split(records, 3)] == [2, 3, 2] and [len(p) for p in split(records[:2], 4)] == [1, 1]
    encoding = Encoding(torch.arange(4), {"distances": np.ones((2, 2)), "half": torch.ones(2, dtype=torch.bfloat16), "name": "m"})
    packed = map_leaves(encoding, _pack)
    assert isinstance(packed.ids, PackedTensor) and isinstance(packed.extras["distances"], np.ndarray)
    restored = map_leaves(packed, _unpack)
    assert isinstance(restored, Encoding) and torch.equal(restored.ids, encoding.ids)
    assert isinstance(restored.extras["distances"], np.ndarray) and restored.extras["half"].dtype == torch.bfloat16 and restored.extras["name"] == "m"
    parts = [
        EncodedChunk(["a", "b"], np.array([0, 1], dtype=np.int8), np.array(["", "bad"], dtype=object), {0: packed}),
        EncodedChunk(["c"], np.array([0], dtype=np.int8), np.array([""], dtype=object), {0: packed}),
    ]
    merged = merge(parts)
    assert merged.record_ids == ["a", "b", "c"] and list(merged.status) == [0, 1, 0] and sorted(merged.encoded) == [0, 2]
    assert torch.equal(merged.encoded[2].ids, encoding.ids)


def test_progress_total_counts_only_this_runs_work() -> None:
    """The ETA's total: records in chunks this rank owns and has not yet scored."""
    import threading

    from sciformer.records import Record
    from sciformer.scoring.pipeline import count_work_in_background
    from sciformer.world import World

    records = [Record(str(i), "x") for i in range(25)]  # chunks of 10: 10, 10, 5
    totals: list[int] = []
    finished = threading.Event()

    def report(total: int) -> None:
        totals.append(total)
        finished.set()

    count_work_in_background(lambda: iter(records), 10, World(0, 1), {0}, report)
    assert finished.wait(30)
    finished.clear()
    count_work_in_background(lambda: iter(records), 10, World(1, 2), set(), report)
    assert finished.wait(30)
    assert totals == [15, 10]
