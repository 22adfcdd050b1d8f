"""The scoring pipeline: read -> tokenize (workers) -> token-budget batches -> model -> HDF5, in input order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sciformer import __version__
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model, weights_sha256
from sciformer.data.budget import token_budget_batches
from sciformer.data.results import STATUS_BAD, STATUS_PENDING, STATUS_SCORED, ChunkStore, is_incomplete
from sciformer.domain import Tokenizer
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring.encoding import EncodedChunk, encode_chunk, encode_chunks
from sciformer.scoring.scorer import Scorer
from sciformer.scoring.sharding import Shard
from sciformer.scoring.stopping import RunStopped, StopRequest

log = logging.getLogger(__name__)

CHUNK_RECORDS = 1024  # records read, tokenized and written at a time: memory stays flat
# Token budget per batch when none is given. On the CPU, activations of 4,096 tokens stay in cache:
# ESM-2 35M scores 1.44x faster than at 16,384, small models up to 1.16x (benchmarks/NOTES.md).
DEFAULT_BATCH_TOKENS = {"cpu": 4096, "cuda": 16384}
IDENTITY = ("checkpoint_sha256", "input", "reader_options", "outputs", "chunk_records")  # what a resumed run must share


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did: the whole file's scored, bad and pending records, and this run's work."""

    output: Path
    scored: int
    bad: int
    seconds: float
    tokens: int
    padding_fraction: float
    processed: int  # records this run tokenized and scored (fewer than scored + bad after --resume)
    pending: int = 0  # records not yet scored (status 2) when the run stopped early
    stopped: str | None = None  # why the run stopped early (SIGTERM, SIGINT, time limit)

    @property
    def records_per_second(self) -> float:
        """Throughput over the records this run processed."""
        return self.processed / max(self.seconds, 1e-9)

    def as_dict(self) -> dict[str, Any]:
        """The summary stored in the results file."""
        summary = {"scored": self.scored, "bad": self.bad, "pending": self.pending, "processed": self.processed, "seconds": round(self.seconds, 3)}
        summary.update({"tokens": self.tokens, "padding_fraction": round(self.padding_fraction, 4)})
        return {**summary, "stopped": self.stopped} if self.stopped else summary


class NumberedChunks:
    """Consecutive chunks of records with their index; `count` is how many have been read."""

    def __init__(self, records: Iterable[Record], size: int) -> None:
        self.records = records
        self.size = size
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, list[Record]]]:
        iterator = iter(self.records)
        while chunk := list(itertools.islice(iterator, self.size)):
            yield self.count, chunk
            self.count += 1


def score(
    model: str | Path,
    input_path: str | Path,
    output: str | Path,
    host: PluginHost,
    *,
    options: Mapping[str, Any] | None = None,
    outputs: Sequence[str] | None = None,
    batch_tokens: int | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    workers: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    chunk_records: int = CHUNK_RECORDS,
    time_limit: float | None = None,
) -> ScoreSummary:
    """Score every record of `input_path` with `model` (a checkpoint dir or shipped name) into HDF5 `output`.

    Under torchrun the records are sharded over the ranks and the result is one file, identical to a
    single-process run. `batch_tokens` defaults by device (DEFAULT_BATCH_TOKENS). `resume` continues a
    stopped run from its last complete chunk. On SIGTERM / SIGINT, or after `time_limit` seconds, the
    run stops early and still writes `output`, with the records it did not reach marked status 2; the
    summary's `stopped` says why (on every rank).
    """
    output = Path(output)
    batch_tokens = batch_tokens or default_batch_tokens(device)
    shard = Shard.from_environment()
    _check_request(output, overwrite, resume, dtype, device)
    model_dir = resolve_model(str(model), host)
    info = read_checkpoint_info(model_dir)
    reader_options = {**info.extra.get("reader_options", {}), **(options or {})}
    records = read_records(host, info.config.domain, input_path, reader_options)
    first = list(itertools.islice(records, 1))  # file-level problems stop the run before any work
    net = load_checkpoint(model_dir, host, device)
    scorer = host.scorer(net, reader_options, model_dir)
    chosen = scorer.choose(outputs)
    tokenizer = host.tokenizer(info.config)
    plugin = host.domain_plugin(info.config.domain)
    attributes = {
        "sciformer_version": __version__,
        "plugin": plugin.name,
        "plugin_version": plugin.version,
        "checkpoint": str(model_dir),
        "checkpoint_sha256": weights_sha256(model_dir),
        "model_config": info.config.to_dict(),
        "input": str(input_path),
        "reader_options": reader_options,
        "outputs": list(chosen),
        "chunk_records": chunk_records,
        "command_line": " ".join(sys.argv),
        "start_time": dt.datetime.now(dt.timezone.utc).isoformat(),
        "dtype": dtype,
    }
    shard.start(device)
    identity = {key: attributes[key] for key in IDENTITY}
    if shard.rank == 0:
        store = ChunkStore(output, identity, resume=resume)
    shard.barrier()
    if shard.rank != 0:
        store = ChunkStore(output, identity, resume=True)
    done = store.done()
    chunks = NumberedChunks(itertools.chain(first, records), chunk_records)
    todo = ((index, chunk) for index, chunk in chunks if shard.owns(index) and index not in done)
    counts = {"records": 0, "tokens": 0, "padded": 0}
    clock = time.perf_counter()
    stop = StopRequest(time_limit)
    try:
        with stop, _progress(progress and shard.rank == 0) as bar:
            task = bar.add_task("scoring", total=None)
            if progress and shard.rank == 0:
                count_work_in_background(lambda: read_records(host, info.config.domain, input_path, reader_options), chunk_records, shard, done, lambda n: bar.update(task, total=n))
            for index, encoded in encode_chunks(todo, tokenizer, info.config, workers):
                columns, tokens, padded = score_encoded(scorer, tokenizer, encoded, chosen, batch_tokens, device, dtype, stop)
                store.write(index, columns, scorer.attributes())
                counts["records"] += len(encoded.status)
                counts["tokens"] += tokens
                counts["padded"] += padded
                elapsed = max(time.perf_counter() - clock, 1e-9)
                rate = f"{counts['records'] / elapsed:,.0f} records/s, {counts['tokens'] / elapsed:,.0f} tokens/s"
                bar.update(task, advance=len(encoded.status), description=f"scoring ({rate})")
                stop.check(deadline=True)
    except RunStopped as request:
        log.warning("scoring stopped early (%s); writing the records not yet scored as status 2", request.reason)
    except BaseException:
        shard.stop()
        raise
    seconds = time.perf_counter() - clock
    processed, tokens, padded, stopped_ranks = shard.sum([counts["records"], counts["tokens"], counts["padded"], int(stop.reason is not None)])
    stopped = stop.reason or ("another rank stopped" if stopped_ranks else None)
    summary = ScoreSummary(output, 0, 0, seconds, tokens, 1.0 - tokens / padded if padded else 0.0, processed, stopped=stopped)
    shard.barrier()
    if shard.rank == 0:
        count = chunks.count
        if stopped_ranks:
            count = _write_placeholders(store, read_records(host, info.config.domain, input_path, reader_options), chunk_records, scorer, chosen)
        statuses = store.statuses(count)
        summary = dataclasses.replace(
            summary, scored=int((statuses == STATUS_SCORED).sum()), bad=int((statuses == STATUS_BAD).sum()),
            pending=int((statuses == STATUS_PENDING).sum()),
        )
        store.join(count, {**attributes, "end_time": dt.datetime.now(dt.timezone.utc).isoformat(), "summary": summary.as_dict()}, scorer.summarise)
    shard.barrier()
    shard.stop()
    log.info("%d record(s) scored, %d bad; this run processed %d in %.1f s", summary.scored, summary.bad, processed, seconds)
    return summary


def default_batch_tokens(device: str) -> int:
    """The token budget per batch for a device when none is given."""
    return DEFAULT_BATCH_TOKENS["cuda" if device.startswith("cuda") else "cpu"]


def _write_placeholders(store: ChunkStore, records: Iterable[Record], chunk_records: int, scorer: Scorer, outputs: Sequence[str]) -> int:
    """Status-2 rows for every chunk not scored; the input is read again (not tokenized) for the ids of
    its records. Returns the number of chunks in the input."""
    done = store.done()
    chunks = NumberedChunks(records, chunk_records)
    for index, chunk in chunks:
        if index in done:
            continue
        ids = np.array([record.id for record in chunk], dtype=object)
        columns = {"record_id": ids, "status": np.full(len(ids), STATUS_PENDING, dtype=np.int8), "error": np.array([""] * len(ids), dtype=object)}
        store.write(index, {**columns, **scorer.empty(outputs, len(ids))}, scorer.attributes(), pending=True)
    return chunks.count


def _check_request(output: Path, overwrite: bool, resume: bool, dtype: str, device: str) -> None:
    if output.exists() and not overwrite and not (resume and is_incomplete(output)):
        raise InputFileError(f"output {output} exists; pass --overwrite to replace it, or --resume if it was stopped early")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    if dtype not in ("float32", "bfloat16"):
        raise ConfigError(f"dtype must be float32 or bfloat16, got {dtype!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available")


def score_encoded(
    scorer: Scorer, tokenizer: Tokenizer, chunk: EncodedChunk, outputs: Sequence[str], batch_tokens: int, device: str, dtype: str, stop: StopRequest | None = None
) -> tuple[dict[str, np.ndarray], int, int]:
    """Run the model over one encoded chunk; returns its columns in input order, real and padded tokens.

    With `stop`, a requested stop is honoured between batches (RunStopped; the chunk is dropped)."""
    count = len(chunk.status)
    rows = sorted(chunk.encoded)
    lengths = [tokenizer.num_tokens(chunk.encoded[r]) for r in rows]
    columns = scorer.empty(outputs, count)
    padded = 0
    with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
        for batch_rows in token_budget_batches(lengths, batch_tokens):
            if stop is not None:
                stop.check()
            chosen = [rows[i] for i in batch_rows]
            padded += max(lengths[i] for i in batch_rows) * len(batch_rows)
            batch = tokenizer.collate([chunk.encoded[r] for r in chosen], [chunk.record_ids[r] for r in chosen]).to(device)
            for name, values in scorer.values(outputs, scorer.model(batch), batch).items():
                for row, value in zip(chosen, values):
                    columns[name][row] = value
    return {"record_id": np.array(chunk.record_ids, dtype=object), "status": chunk.status, "error": chunk.errors, **columns}, int(sum(lengths)), padded


def score_chunk(
    net: SciformerModel, tokenizer: Tokenizer, records: Sequence[Record], batch_tokens: int, device: str, dtype: str, outputs: Sequence[str] | None = None,
    scorer: Scorer | None = None,
) -> tuple[dict[str, np.ndarray], int]:
    """Score records in memory (no files): the columns a results file would hold, and the tokens seen.

    `scorer` defaults to the engine's (pass `PluginHost.scorer(net, options)` for a domain's own)."""
    scorer = scorer or Scorer(net)
    columns, tokens, _ = score_encoded(scorer, tokenizer, encode_chunk(tokenizer, records), scorer.choose(outputs), batch_tokens, device, dtype)
    return columns, tokens


def count_work_in_background(read: Callable[[], Iterable[Record]], chunk_records: int, shard: Shard, done: set[int], report: Callable[[int], None]) -> None:
    """Count the records this rank has to score in a daemon thread (the input read again, not
    tokenized) and report the total, so the progress bar can show an ETA; only for interactive runs."""

    def count() -> None:
        try:
            total = sum(len(chunk) for index, chunk in NumberedChunks(read(), chunk_records) if shard.owns(index) and index not in done)
        except Exception as error:  # the scoring loop reports real read errors; the bar just has no ETA
            log.debug("no record count for the progress bar: %s", error)
            return
        report(total)

    threading.Thread(target=count, name="sciformer-count", daemon=True).start()


def _progress(enabled: bool) -> Progress:
    columns = (TextColumn("{task.description}"), TextColumn("{task.completed} records"), BarColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    return Progress(*columns, disable=not enabled)
