"""Fault injection: scoring runs killed at random points, two writers at once, an input replaced
between runs, a disk that fills up. Every finished file must equal the uninterrupted one, or the run
must have been refused in one line: no lost, doubled or mixed rows."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sciformer.data.results import ChunkStore, is_incomplete
from sciformer.errors import OutputError
from sciformer.plugins import PluginHost
from sciformer.scoring import score
from sciformer.scoring.lock import OutputLock
from sciformer.testing.results import assert_same_results

MODEL = "text-who-ordered"
WORDS = ["<start>", "man", "woman", "ordered", "the", "chicken", "beef"]
OUTPUTS = ["embedding", "token_embeddings"]
KILL_TRIALS = 20
RECORDS, CHUNK = 3_000, 100
CHUNKS = RECORDS // CHUNK


def write_lines(path: Path, count: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(1, 8))) for _ in range(count)) + "\n")
    return path


def run(inputs: Path, output: Path, **keywords) -> object:
    """Score with the built-in text model in this process."""
    return score(MODEL, inputs, output, PluginHost(entry_points=False), outputs=OUTPUTS, chunk_records=CHUNK, **keywords)


def _child(inputs: Path, output: Path, keywords: dict) -> None:
    os.environ["SCIFORMER_PLUGINS"] = ""
    run(inputs, output, **keywords)


def start(inputs: Path, output: Path, **keywords) -> multiprocessing.Process:
    """The same run in a forked process, to be killed."""
    process = multiprocessing.get_context("fork").Process(target=_child, args=(inputs, output, keywords))
    process.start()
    return process


def wait_for_chunks(output: Path, count: int, process: multiprocessing.Process | None = None, timeout: float = 120) -> None:
    """Until `count` chunks of `output` are written (or `process` has ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(list(output.with_name(output.name + ".chunks").glob("chunk-*.h5"))) < count:
        if process is not None and not process.is_alive():
            return
        time.sleep(0.005)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path, float]:
    """3,000 records, their uninterrupted results and how long a forked run over them takes."""
    folder = tmp_path_factory.mktemp("reference")
    inputs = write_lines(folder / "in.txt", RECORDS)
    run(inputs, folder / "full.h5")
    clock = time.perf_counter()
    start(inputs, folder / "timed.h5").join()
    return inputs, folder / "full.h5", time.perf_counter() - clock


def test_kill_at_random_points_then_resume(reference, tmp_path) -> None:
    """SIGKILL at seeded random moments (before, during and after chunks and the join): after a random
    number of finished chunks, plus a random part of one chunk's time. Resuming always gives the
    uninterrupted file."""
    inputs, full, seconds = reference
    rng = np.random.default_rng(2026)
    outcomes = {"killed": 0, "finished first": 0}
    for trial in range(KILL_TRIALS):
        target = tmp_path / f"trial-{trial}.h5"
        process = start(inputs, target)
        wait_for_chunks(target, int(rng.integers(0, CHUNKS + 1)), process)
        time.sleep(float(rng.uniform(0.0, seconds / CHUNKS)))
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        outcomes["finished first" if process.exitcode == 0 else "killed"] += 1
        if not target.exists() or is_incomplete(target):
            run(inputs, target, resume=True)
        assert_same_results(full, target)
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(target.name)) in ([target.name], [target.name, target.name + ".lock"])
    assert outcomes["killed"] >= KILL_TRIALS // 2, outcomes


def test_a_second_writer_is_refused_while_the_first_finishes(reference, tmp_path) -> None:
    inputs, full, _ = reference
    other = write_lines(tmp_path / "other.txt", 500, seed=3)
    target = tmp_path / "o.h5"
    first = start(inputs, target)
    wait_for_chunks(target, 1)
    for keywords in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(OutputError, match=f"being written by another run \\(pid {first.pid} "):
            run(other, target, **keywords)
    first.join()
    assert first.exitcode == 0
    assert_same_results(full, target)


def test_an_input_replaced_between_runs_is_refused(reference, tmp_path) -> None:
    inputs, _, _ = reference
    moving = tmp_path / "in.txt"
    moving.write_bytes(inputs.read_bytes())
    target = tmp_path / "o.h5"
    process = start(moving, target)
    wait_for_chunks(target, 3)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    write_lines(moving, 3_000, seed=9)
    with pytest.raises(OutputError, match=r"changed since the run that (began|wrote) it: input\.fingerprint"):
        run(moving, target, resume=True)
    run(moving, target, overwrite=True)
    run(moving, tmp_path / "fresh.h5")
    assert_same_results(tmp_path / "fresh.h5", target)


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs whose size a test sets with `resize(bytes)`; skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    attempt = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True)
    if attempt.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here to fill a disk: {attempt.stderr.strip() or attempt.returncode}")

    def resize(size: int) -> Path:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)
        return mount

    try:
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_in_a_chunk_or_the_join_then_resume(reference, tmp_path, small_disk, monkeypatch) -> None:
    """A full disk stops the run with one OutputError; finished chunks stay, nothing half-written is left,
    and --resume after freeing space gives the uninterrupted file."""
    inputs, full, _ = reference
    chunks_size = _chunk_folder_size(inputs, tmp_path / "measure.h5", monkeypatch)
    for where, size in (("chunk", chunks_size // 2 + (3 << 19)), ("the results file", chunks_size * 3 // 2 + (3 << 19))):
        disk = small_disk(64 << 20)
        for leftover in disk.iterdir():
            subprocess.run(["rm", "-rf", str(leftover)], check=True)
        small_disk(size)
        target = disk / "o.h5"
        with pytest.raises(OutputError, match=f"cannot write {where}.*no space left on the device"):
            run(inputs, target)
        assert not target.exists() and not list(disk.glob("**/*.tmp")) and not list(disk.glob("*.partial"))
        assert list((disk / "o.h5.chunks").glob("chunk-*.h5")), "finished chunks are kept"
        small_disk(64 << 20)
        run(inputs, target, resume=True)
        assert_same_results(full, target)


def _chunk_folder_size(inputs: Path, output: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Bytes of the chunk folder of a run over `inputs`, measured just before its join."""
    sizes: list[int] = []
    original = ChunkStore.join

    def measured(store: ChunkStore, *args, **keywords):
        sizes.append(sum(p.stat().st_size for p in store.folder.iterdir()))
        return original(store, *args, **keywords)

    with monkeypatch.context() as patch:
        patch.setattr(ChunkStore, "join", measured)
        run(inputs, output)
    return sizes[0]


def test_a_write_that_fills_the_disk_is_one_line(reference, tmp_path, small_disk, monkeypatch) -> None:
    """Past the free-space check (another process filling the disk), the failing write itself is turned
    into the same one-line error, its temporary file removed."""
    inputs, _, _ = reference
    monkeypatch.setattr("sciformer.data.results.ensure_space", lambda *args: None)
    disk = small_disk(300 << 10)
    with pytest.raises(OutputError, match="cannot write chunk .*no space left on the device"):
        score(MODEL, inputs, disk / "o.h5", PluginHost(entry_points=False), outputs=["embedding"], chunk_records=100)
    assert not list(disk.glob("**/*.tmp")) and list((disk / "o.h5.chunks").glob("chunk-*.h5"))


def test_under_torchrun_every_rank_follows_rank_0s_lock(reference, tmp_path) -> None:
    """With the output locked by another run, rank 0 is refused and the other rank stops too, before any work."""
    inputs, _, _ = reference
    target = tmp_path / "o.h5"
    environment = {**os.environ, "SCIFORMER_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "sciformer", "score", "--model", MODEL, "--input", str(inputs), "--output", str(target)]
    with OutputLock(target):
        completed = subprocess.run(launch, env=environment, capture_output=True, text=True, timeout=600)
    assert completed.returncode != 0
    assert f"is being written by another run (pid {os.getpid()} " in completed.stderr
    assert "rank 0 could not take the lock of the output" in completed.stderr, completed.stderr[-2000:]
    assert not (tmp_path / "o.h5.chunks").exists() and not target.exists()
