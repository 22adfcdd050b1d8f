"""Tokenizing chunks of records, inline or in worker processes with a bounded number in flight."""

from __future__ import annotations

import collections
import ctypes
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sciformer.config import ModelConfig
from sciformer.data.results import STATUS_BAD, STATUS_SCORED
from sciformer.domain import Tokenizer
from sciformer.errors import BadRecordError
from sciformer.records import Record


@dataclass
class EncodedChunk:
    """One chunk of records after tokenization: encodings of the good ones, status and errors of all."""

    record_ids: list[str]
    status: np.ndarray  # (N,) int8
    errors: np.ndarray  # (N,) object (str)
    encoded: dict[int, Any]  # row -> encoding, good rows only


def encode_chunk(tokenizer: Tokenizer, records: Sequence[Record]) -> EncodedChunk:
    """Encode each record on its own; a bad record is marked with its reason, the rest go on."""
    status = np.full(len(records), STATUS_SCORED, dtype=np.int8)
    errors = np.array([""] * len(records), dtype=object)
    encoded: dict[int, Any] = {}
    for row, record in enumerate(records):
        try:
            if record.error:
                raise BadRecordError(record.id, record.error)
            encoded[row] = tokenizer.encode(record)
            errors[row] = "; ".join(note for note in (record.warning, tokenizer.warning(encoded[row])) if note)
        except BadRecordError as error:
            status[row], errors[row] = STATUS_BAD, error.reason
        except Exception as error:  # a tokenizer bug on one record must not lose the others  # noqa: BLE001
            status[row], errors[row] = STATUS_BAD, f"tokenizer failed: {type(error).__name__}: {error}"
    return EncodedChunk([r.id for r in records], status, errors, encoded)


_worker_tokenizer: Tokenizer | None = None
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_SECONDS = 0.5  # how often a worker without PR_SET_PDEATHSIG checks that its parent is alive


def _start_worker(config: dict[str, Any], parent: int) -> None:
    """Tie this worker's life to its parent's, then build its tokenizer once; one thread each."""
    global _worker_tokenizer
    from sciformer.plugins import PluginHost
    from sciformer.plugins import log as plugins_log

    _die_with_parent(parent)
    plugins_log.setLevel(logging.ERROR)  # the parent has reported the plugins that failed
    torch.set_num_threads(1)
    _worker_tokenizer = PluginHost().tokenizer(ModelConfig.from_dict(config))


def _die_with_parent(parent: int) -> None:
    """End this process when process `parent` ends, even by SIGKILL, so no worker outlives a run.

    On Linux the kernel sends SIGKILL when the thread that started this process ends: encode_chunks
    starts its workers from the thread that iterates it, which outlives the pool. Elsewhere, or where
    prctl is refused, a daemon thread polls the parent's pid. A parent that is already gone (it ended
    before the request took effect) ends this process at once.
    """
    linux = sys.platform.startswith("linux")
    if not linux or ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), name="sciformer-parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _encode_in_worker(records: Sequence[Record]) -> EncodedChunk:
    assert _worker_tokenizer is not None
    chunk = encode_chunk(_worker_tokenizer, records)
    chunk.encoded = {row: map_leaves(encoding, _pack) for row, encoding in chunk.encoded.items()}
    return chunk


@dataclass(frozen=True)
class PackedTensor:
    """A tensor sent from a worker as a numpy array: a pickled tensor costs a shared-memory handle
    each, measured at nearly 3x the round trip of the same chunk as arrays."""

    array: np.ndarray


def _pack(leaf: Any) -> Any:
    return PackedTensor(leaf.numpy()) if isinstance(leaf, torch.Tensor) and leaf.dtype != torch.bfloat16 else leaf


def _unpack(leaf: Any) -> Any:
    return torch.from_numpy(leaf.array) if isinstance(leaf, PackedTensor) else leaf


def map_leaves(value: Any, convert: Callable[[Any], Any]) -> Any:
    """`value` with `convert` applied to every leaf inside tuples, named tuples, lists and dicts."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)._make(map_leaves(item, convert) for item in value)
    if isinstance(value, (tuple, list)):
        return type(value)(map_leaves(item, convert) for item in value)
    if isinstance(value, dict):
        return {key: map_leaves(item, convert) for key, item in value.items()}
    return convert(value)


def split(records: Sequence[Record], parts: int) -> list[Sequence[Record]]:
    """Consecutive slices of `records`, at most `parts` of them, as even as possible (none empty)."""
    parts = max(1, min(parts, len(records)))
    bounds = np.linspace(0, len(records), parts + 1).round().astype(int)
    return [records[start:stop] for start, stop in itertools.pairwise(bounds)]


def merge(parts: Sequence[EncodedChunk]) -> EncodedChunk:
    """One chunk from its consecutive parts, rows renumbered and encodings back as tensors."""
    encoded: dict[int, Any] = {}
    offset = 0
    for part in parts:
        encoded.update({offset + row: map_leaves(encoding, _unpack) for row, encoding in part.encoded.items()})
        offset += len(part.status)
    return EncodedChunk(
        [record_id for part in parts for record_id in part.record_ids],
        np.concatenate([part.status for part in parts]),
        np.concatenate([part.errors for part in parts]),
        encoded,
    )


def encode_chunks(chunks: Iterable[tuple[int, Sequence[Record]]], tokenizer: Tokenizer, config: ModelConfig, workers: int) -> Iterator[tuple[int, EncodedChunk]]:
    """Numbered chunks encoded, in input order.

    With workers, each chunk is split into one part per worker, so every worker has work whatever the
    chunk size, and at most two chunks are in flight (flat memory)."""
    if workers <= 0:
        for index, chunk in chunks:
            yield index, encode_chunk(tokenizer, chunk)
        return
    context = multiprocessing.get_context("spawn")  # no forked copies of the parent's thread pools
    initargs = (config.to_dict(), os.getpid())
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker, initargs=initargs) as pool:
        pending: collections.deque[tuple[int, list[Future[EncodedChunk]]]] = collections.deque()
        try:
            for index, chunk in chunks:
                pending.append((index, [pool.submit(_encode_in_worker, part) for part in split(chunk, workers)]))
                if len(pending) >= 2:
                    done_index, futures = pending.popleft()
                    yield done_index, merge([future.result() for future in futures])
            while pending:
                done_index, futures = pending.popleft()
                yield done_index, merge([future.result() for future in futures])
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # a stopped run does not wait for chunks it will drop


def default_workers() -> int:
    """Tokenizer processes by default: none with fewer than four usable cores, else two."""
    return 0 if len(os.sched_getaffinity(0)) < 4 else 2
