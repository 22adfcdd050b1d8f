"""Training on two CPU processes (gloo) under torchrun: the same loss curve as one process with the
same global batch, for DDP and FSDP, and a run killed mid-way resumes on the curve, at any world size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from sciformer.checkpoint import load_checkpoint
from sciformer.training.distributed import rank_share
from sciformer.training.recipe import train_recipe
from sciformer.world import World

# DDP on 2 ranks sums the same halves of the gradient as accumulation: exact. FSDP reduces shards in another order:
# largest loss difference measured 2.4e-7 (docs/training.md), allowed ten times that.
FSDP_TOLERANCE = 2.4e-6
KILL_AT = 7  # the run dies at optimizer step 7; its last state is from step 4 (eval_every 4)

# Kills every rank (SIGKILL, no clean-up) as it is about to log optimizer step KILL_AT.
KILLER = """
import os, signal, sys
from sciformer.cli.main import main
from sciformer.training import trainer

original = trainer.Trainer._log

def log_or_die(self, row):
    if row["split"] == "train" and row["step"] == {step}:
        os.kill(os.getpid(), signal.SIGKILL)
    original(self, row)

trainer.Trainer._log = log_or_die
sys.argv[0] = "sciformer"
main()
"""


def write_recipe(folder: Path, **training: object) -> Path:
    """16 short sentences, a small causal model with dropout, 12 optimizer steps."""
    folder.mkdir(parents=True, exist_ok=True)
    who, dishes = ["man", "woman", "child", "cook"], ["chicken", "beef", "soup", "rice"]
    lines = [f"<start> the {w} ordered the {d}" + (" again" if (i * 3 + j) % 4 == 0 else "") for i, w in enumerate(who) for j, d in enumerate(dishes)]
    (folder / "orders.txt").write_text("\n".join(lines) + "\n")
    recipe = {
        "model": {"domain": "text", "task": "clm", "causal": True, "dim": 16, "depth": 2, "heads": 2, "dropout": 0.1, "max_positions": 16},
        "data": {"train": "orders.txt", "split": {"valid": 0.25, "seed": 0}},
        "training": {"max_steps": 12, "batch_size": 2, "lr": 0.01, "warmup_steps": 2, "eval_every": 4, "keep_state": True, **training},
        "output": "run",
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def torchrun(folder: Path, args: list[str], killer: bool = False) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc-per-node 2 -m sciformer train ...` (or the killing wrapper)."""
    entry = ["-m", "sciformer"]
    if killer:
        (folder / "killer.py").write_text(KILLER.format(step=KILL_AT))
        entry = [str(folder / "killer.py")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SCIFORMER_PLUGINS": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *entry, "train", *args]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def assert_same_curve(reference: list[dict], other: list[dict], tolerance: float = 0.0) -> None:
    """Same rows (split, step) in the same order, every loss within `tolerance` (0: equal)."""
    assert [(r["split"], r["step"]) for r in other] == [(r["split"], r["step"]) for r in reference]
    assert max(abs(a["loss"] - b["loss"]) for a, b in zip(reference, other)) <= tolerance


def assert_same_tensors(reference: Path, other: Path) -> None:
    """Two safetensors files hold the same names, shapes and values, bit for bit."""
    a, b = load_file(str(reference)), load_file(str(other))
    assert a.keys() == b.keys()
    assert [name for name in a if not torch.equal(a[name], b[name])] == [], f"{other.name} differs"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One process, accumulate 2: the global batch of two processes with accumulate 1. One thread, as each
    rank has (OMP_NUM_THREADS=1): a different thread count sums matrix products in another order."""
    from sciformer.plugins import PluginHost

    recipe = write_recipe(tmp_path_factory.mktemp("one"), accumulate=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_recipe(recipe, PluginHost(entry_points=False)).output
    finally:
        torch.set_num_threads(threads)


def test_every_micro_batch_goes_to_exactly_one_rank() -> None:
    for count, per_step, size in ((7, 2, 2), (10, 6, 3), (3, 4, 4)):
        seen = [p for start in range(0, count, per_step) for rank in range(size) for p in rank_share(range(start, min(start + per_step, count)), World(rank, size))]
        assert sorted(seen) == list(range(count))


def test_ddp_two_processes_end_with_the_weights_of_one_with_accumulation(tmp_path, reference) -> None:
    """Two processes (accumulate 1) and one (accumulate 2): the same best and final weights, optimizer moments and
    metrics file, bit for bit."""
    write_recipe(tmp_path)
    completed = torchrun(tmp_path, ["recipe.yaml"])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for name in ("model.safetensors", "state/model.safetensors", "state/trainer.safetensors"):
        assert_same_tensors(reference / name, tmp_path / "run" / name)
    assert (tmp_path / "run/metrics.jsonl").read_text() == (reference / "metrics.jsonl").read_text()


def test_ddp_two_processes_follow_one_and_resume_after_a_kill(tmp_path, reference) -> None:
    """Two processes (accumulate 1), killed at step 7, resumed on two processes: the one-process curve and weights."""
    write_recipe(tmp_path)
    killed = torchrun(tmp_path, ["recipe.yaml"], killer=True)
    assert killed.returncode != 0, killed.stdout + killed.stderr
    state = json.loads((tmp_path / "run/state/trainer.json").read_text())["progress"]
    assert (state["step"], state["batch"]) == (4, 2), "the last saved state is step 4: epoch 1, after 2 of 6 micro-batches"
    assert max(r["step"] for r in rows(tmp_path / "run")) == KILL_AT - 1
    resumed = torchrun(tmp_path, ["recipe.yaml", "--resume"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_same_curve(rows(reference), rows(tmp_path / "run"))
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["processes"] == 2 and summary["valid"] == json.loads((reference / "summary.json").read_text())["valid"]
    assert_same_tensors(reference / "model.safetensors", tmp_path / "run/model.safetensors")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "metrics.jsonl", "model.safetensors", "state", "summary.json"]


def test_fsdp_two_processes_follow_one_and_resume_on_one(tmp_path, reference, host) -> None:
    """FSDP on two processes, killed at step 7, resumed on ONE process (accumulate 2): the same curve,
    and the same safetensors checkpoint layout as an unsharded run."""
    recipe = write_recipe(tmp_path, fsdp=True)
    killed = torchrun(tmp_path, ["recipe.yaml"], killer=True)
    assert killed.returncode != 0, killed.stdout + killed.stderr
    assert json.loads((tmp_path / "run/state/trainer.json").read_text())["progress"]["step"] == 4
    result = train_recipe(recipe, host, overrides=["training.accumulate=2"], resume=True)
    assert_same_curve(rows(reference), rows(result.output), FSDP_TOLERANCE)
    ours, theirs = load_file(str(result.output / "model.safetensors")), load_file(str(reference / "model.safetensors"))
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    model = load_checkpoint(result.output, host)
    assert model.config.task == "clm" and all(torch.isfinite(p).all() for p in model.parameters())
