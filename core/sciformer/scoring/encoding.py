"""Tokenizing chunks of records, inline or in worker processes with a bounded number in flight."""

from __future__ import annotations

import collections
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

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
        except BadRecordError as error:
            status[row], errors[row] = STATUS_BAD, error.reason
        except Exception as error:  # a tokenizer bug on one record must not lose the others
            status[row], errors[row] = STATUS_BAD, f"tokenizer failed: {type(error).__name__}: {error}"
    return EncodedChunk([r.id for r in records], status, errors, encoded)


_worker_tokenizer: Tokenizer | None = None


def _start_worker(config: dict[str, Any]) -> None:
    """Build this worker's tokenizer once; workers use one thread each."""
    global _worker_tokenizer
    from sciformer.plugins import PluginHost

    torch.set_num_threads(1)
    _worker_tokenizer = PluginHost().tokenizer(ModelConfig.from_dict(config))


def _encode_in_worker(records: Sequence[Record]) -> EncodedChunk:
    assert _worker_tokenizer is not None
    return encode_chunk(_worker_tokenizer, records)


def encode_chunks(chunks: Iterable[tuple[int, Sequence[Record]]], tokenizer: Tokenizer, config: ModelConfig, workers: int) -> Iterator[tuple[int, EncodedChunk]]:
    """Numbered chunks encoded, in input order; with workers, up to 2 chunks per worker are in flight (flat memory)."""
    if workers <= 0:
        for index, chunk in chunks:
            yield index, encode_chunk(tokenizer, chunk)
        return
    context = multiprocessing.get_context("spawn")  # no forked copies of the parent's thread pools
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(config.to_dict(),)) as pool:
        pending: collections.deque[tuple[int, Future[EncodedChunk]]] = collections.deque()
        try:
            for index, chunk in chunks:
                pending.append((index, pool.submit(_encode_in_worker, chunk)))
                if len(pending) >= 2 * workers:
                    done_index, future = pending.popleft()
                    yield done_index, future.result()
            while pending:
                done_index, future = pending.popleft()
                yield done_index, future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # a stopped run does not wait for chunks it will drop


def default_workers() -> int:
    """Tokenizer processes by default: none on a machine with fewer than four cores."""
    return 0 if (os.cpu_count() or 1) < 4 else 2
