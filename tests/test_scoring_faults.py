"""Fault injection: scoring runs killed at known points, two writers at once, an input replaced
between runs, a disk that fills up. Every finished file must equal the uninterrupted one, or the run
must have been refused in one line: no lost, doubled or mixed rows."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sciformer.data.results import ChunkStore
from sciformer.errors import OutputError
from sciformer.plugins import PluginHost
from sciformer.scoring import score
from sciformer.scoring.lock import OutputLock
from sciformer.testing.results import assert_same_results

MODEL = "text-who-ordered"
WORDS = ["<start>", "man", "woman", "ordered", "the", "chicken", "beef"]
OUTPUTS = ["embedding", "token_embeddings"]
KILL_POINTS = 8  # chunks after which a run is killed
RECORDS, CHUNK = 3_000, 100
CHUNKS = RECORDS // CHUNK


def write_lines(path: Path, count: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("\n".join(" ".join(rng.choice(WORDS, size=rng.integers(1, 8))) for _ in range(count)) + "\n")
    return path


def run(inputs: Path, output: Path, **keywords) -> object:
    """Score with the built-in text model in this process."""
    return score(MODEL, inputs, output, PluginHost(entry_points=False), outputs=OUTPUTS, chunk_records=CHUNK, **keywords)


def _child(inputs: Path, output: Path, chunk: int, report: int, keywords: dict) -> None:
    os.environ.update(SCIFORMER_PLUGINS="", SCIFORMER_PAUSE_AFTER_CHUNK=str(chunk))
    with open(report, "w", buffering=1) as stream, contextlib.redirect_stderr(stream):  # the pause's line goes to the parent
        run(inputs, output, **keywords)


def start_paused(inputs: Path, output: Path, chunk: int, **keywords) -> multiprocessing.Process:
    """The same run in a forked process, returned once it has written chunk `chunk` and waits for a signal."""
    read, write = os.pipe()
    process = multiprocessing.get_context("fork").Process(target=_child, args=(inputs, output, chunk, write, keywords))
    process.start()
    os.close(write)
    with open(read) as report:
        if not any(line.startswith(f"sciformer: paused after chunk {chunk} ") for line in report):
            process.join()
            pytest.fail(f"the run ended (exit {process.exitcode}) without pausing after chunk {chunk}")
    return process


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """3,000 records and their uninterrupted results."""
    folder = tmp_path_factory.mktemp("reference")
    inputs = write_lines(folder / "in.txt", RECORDS)
    run(inputs, folder / "full.h5")
    return inputs, folder / "full.h5"


def test_kill_after_chunks_and_in_writes_then_resume(reference, tmp_path) -> None:
    """SIGKILL after the first chunk, the last (before the join) and seeded ones between, with what a kill during
    the next chunk's write and during the join leaves behind (torn temporary files): resuming always gives the
    uninterrupted file."""
    inputs, full = reference
    rng = np.random.default_rng(2026)
    points = {0, CHUNKS - 1, *rng.choice(np.arange(1, CHUNKS - 1), size=KILL_POINTS - 2, replace=False).tolist()}
    for chunk in sorted(points):
        target = tmp_path / f"after-{chunk}.h5"
        process = start_paused(inputs, target, chunk)
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        store = ChunkStore(target)
        assert process.exitcode == -signal.SIGKILL and not target.exists() and store.done() == set(range(chunk + 1))
        torn = store.path(chunk).read_bytes()[:200]
        if chunk + 1 < CHUNKS:
            store.path(chunk + 1).with_suffix(".tmp").write_bytes(torn)
        target.with_name(target.name + ".partial").write_bytes(torn)
        run(inputs, target, resume=True)
        assert_same_results(full, target)
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(target.name)) in ([target.name], [target.name, target.name + ".lock"])


def test_a_second_writer_is_refused_while_the_first_runs(reference, tmp_path) -> None:
    """While a run holds the output (paused after its first chunk) every other run is refused and leaves its
    chunks alone: once the first is killed, --resume completes the same file."""
    inputs, full = reference
    other = write_lines(tmp_path / "other.txt", 500, seed=3)
    target = tmp_path / "o.h5"
    first = start_paused(inputs, target, 0)
    for keywords in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(OutputError, match=f"being written by another run \\(pid {first.pid} "):
            run(other, target, **keywords)
    os.kill(first.pid, signal.SIGKILL)
    first.join()
    run(inputs, target, resume=True)
    assert_same_results(full, target)


def test_an_input_replaced_between_runs_is_refused(reference, tmp_path) -> None:
    inputs, _ = reference
    moving = tmp_path / "in.txt"
    moving.write_bytes(inputs.read_bytes())
    target = tmp_path / "o.h5"
    process = start_paused(moving, target, 2)
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
    inputs, full = reference
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
    inputs, _ = reference
    monkeypatch.setattr("sciformer.data.results.ensure_space", lambda *args: None)
    disk = small_disk(300 << 10)
    with pytest.raises(OutputError, match="cannot write chunk .*no space left on the device"):
        score(MODEL, inputs, disk / "o.h5", PluginHost(entry_points=False), outputs=["embedding"], chunk_records=100)
    assert not list(disk.glob("**/*.tmp")) and list((disk / "o.h5.chunks").glob("chunk-*.h5"))


def test_under_torchrun_every_rank_follows_rank_0s_lock(reference, tmp_path) -> None:
    """With the output locked by another run, rank 0 is refused and the other rank stops too, before any work."""
    inputs, _ = reference
    target = tmp_path / "o.h5"
    environment = {**os.environ, "SCIFORMER_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "sciformer", "score", "--model", MODEL, "--input", str(inputs), "--output", str(target)]
    with OutputLock(target):
        completed = subprocess.run(launch, env=environment, capture_output=True, text=True, timeout=600)
    assert completed.returncode != 0
    assert f"is being written by another run (pid {os.getpid()} " in completed.stderr
    assert "rank 0 could not take the lock of the output" in completed.stderr, completed.stderr[-2000:]
    assert not (tmp_path / "o.h5.chunks").exists() and not target.exists()
