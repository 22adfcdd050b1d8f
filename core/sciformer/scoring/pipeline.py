"""The scoring pipeline: read -> tokenize (workers) -> token-budget batches -> model -> HDF5, in input order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from sciformer import __version__
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model, weights_sha256
from sciformer.data.budget import token_budget_batches
from sciformer.data.results import STATUS_BAD, STATUS_SCORED, ChunkStore
from sciformer.domain import Tokenizer
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring.encoding import EncodedChunk, encode_chunk, encode_chunks
from sciformer.scoring.outputs import batch_outputs, choose_outputs, column_attributes, empty_outputs
from sciformer.scoring.sharding import Shard

log = logging.getLogger(__name__)

CHUNK_RECORDS = 1024  # records read, tokenized and written at a time: memory stays flat
IDENTITY = ("checkpoint_sha256", "input", "reader_options", "outputs", "chunk_records")  # what a resumed run must share


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did: the whole file's scored and bad records, and this run's work."""

    output: Path
    scored: int
    bad: int
    seconds: float
    tokens: int
    padding_fraction: float
    processed: int  # records this run tokenized and scored (fewer than scored + bad after --resume)

    @property
    def records_per_second(self) -> float:
        """Throughput over the records this run processed."""
        return self.processed / max(self.seconds, 1e-9)

    def as_dict(self) -> dict[str, Any]:
        """The summary stored in the results file."""
        return {"scored": self.scored, "bad": self.bad, "processed": self.processed, "seconds": round(self.seconds, 3), "tokens": self.tokens, "padding_fraction": round(self.padding_fraction, 4)}


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
    batch_tokens: int = 16384,
    device: str = "cpu",
    dtype: str = "float32",
    workers: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    chunk_records: int = CHUNK_RECORDS,
) -> ScoreSummary:
    """Score every record of `input_path` with `model` (a checkpoint dir or shipped name) into HDF5 `output`.

    Under torchrun the records are sharded over the ranks and the result is one file, identical to a
    single-process run. `resume` continues a stopped run from its last complete chunk.
    """
    output = Path(output)
    shard = Shard.from_environment()
    _check_request(output, overwrite, resume, dtype, device)
    model_dir = resolve_model(str(model), host)
    info = read_checkpoint_info(model_dir)
    reader_options = {**info.extra.get("reader_options", {}), **(options or {})}
    records = read_records(host, info.config.domain, input_path, reader_options)
    first = list(itertools.islice(records, 1))  # file-level problems stop the run before any work
    net = load_checkpoint(model_dir, host, device)
    chosen = choose_outputs(net, outputs)
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
    try:
        with _progress(progress and shard.rank == 0) as bar:
            task = bar.add_task("scoring", total=None)
            for index, encoded in encode_chunks(todo, tokenizer, info.config, workers):
                columns, tokens, padded = score_encoded(net, tokenizer, encoded, chosen, batch_tokens, device, dtype)
                store.write(index, columns, column_attributes(net))
                counts["records"] += len(encoded.status)
                counts["tokens"] += tokens
                counts["padded"] += padded
                elapsed = max(time.perf_counter() - clock, 1e-9)
                rate = f"{counts['records'] / elapsed:,.0f} records/s, {counts['tokens'] / elapsed:,.0f} tokens/s"
                bar.update(task, advance=len(encoded.status), description=f"scoring ({rate})")
    except BaseException:
        shard.stop()
        raise
    seconds = time.perf_counter() - clock
    processed, tokens, padded = shard.sum([counts["records"], counts["tokens"], counts["padded"]])
    summary = ScoreSummary(output, 0, 0, seconds, tokens, 1.0 - tokens / padded if padded else 0.0, processed)
    shard.barrier()
    if shard.rank == 0:
        statuses = store.statuses(chunks.count)
        summary = dataclasses.replace(summary, scored=int((statuses == STATUS_SCORED).sum()), bad=int((statuses == STATUS_BAD).sum()))
        store.join(chunks.count, {**attributes, "end_time": dt.datetime.now(dt.timezone.utc).isoformat(), "summary": summary.as_dict()})
    shard.barrier()
    shard.stop()
    log.info("%d record(s) scored, %d bad; this run processed %d in %.1f s", summary.scored, summary.bad, processed, seconds)
    return summary


def _check_request(output: Path, overwrite: bool, resume: bool, dtype: str, device: str) -> None:
    if output.exists() and not overwrite:
        raise InputFileError(f"output {output} exists; pass --overwrite to replace it")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    if dtype not in ("float32", "bfloat16"):
        raise ConfigError(f"dtype must be float32 or bfloat16, got {dtype!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available")


def score_encoded(
    net: SciformerModel, tokenizer: Tokenizer, chunk: EncodedChunk, outputs: Sequence[str], batch_tokens: int, device: str, dtype: str
) -> tuple[dict[str, np.ndarray], int, int]:
    """Run the model over one encoded chunk; returns its columns in input order, real and padded tokens."""
    count = len(chunk.status)
    rows = sorted(chunk.encoded)
    lengths = [tokenizer.num_tokens(chunk.encoded[r]) for r in rows]
    columns = empty_outputs(net, outputs, count)
    padded = 0
    with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
        for batch_rows in token_budget_batches(lengths, batch_tokens):
            chosen = [rows[i] for i in batch_rows]
            padded += max(lengths[i] for i in batch_rows) * len(batch_rows)
            batch = tokenizer.collate([chunk.encoded[r] for r in chosen], [chunk.record_ids[r] for r in chosen]).to(device)
            for name, values in batch_outputs(net, outputs, net(batch), batch).items():
                for row, value in zip(chosen, values):
                    columns[name][row] = value
    return {"record_id": np.array(chunk.record_ids, dtype=object), "status": chunk.status, "error": chunk.errors, **columns}, int(sum(lengths)), padded


def score_chunk(
    net: SciformerModel, tokenizer: Tokenizer, records: Sequence[Record], batch_tokens: int, device: str, dtype: str, outputs: Sequence[str] | None = None
) -> tuple[dict[str, np.ndarray], int]:
    """Score records in memory (no files): the columns a results file would hold, and the tokens seen."""
    columns, tokens, _ = score_encoded(net, tokenizer, encode_chunk(tokenizer, records), choose_outputs(net, outputs), batch_tokens, device, dtype)
    return columns, tokens


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), TextColumn("{task.completed} records"), TimeElapsedColumn(), disable=not enabled)
