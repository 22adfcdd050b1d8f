"""The scoring pipeline: read -> tokenize (workers) -> token-budget batches -> model -> HDF5, in input order."""

from __future__ import annotations

import datetime as dt
import itertools
import json
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
from sciformer.data.results import STATUS_BAD, STATUS_SCORED, ResultWriter, partial_path
from sciformer.domain import Tokenizer
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring.encoding import EncodedChunk, encode_chunk, encode_chunks
from sciformer.scoring.outputs import batch_outputs, choose_outputs, column_attributes, empty_outputs
from sciformer.scoring.sharding import Shard, merge_parts

log = logging.getLogger(__name__)

CHUNK_RECORDS = 1024  # records read, tokenized and written at a time: memory stays flat
IDENTITY = ("checkpoint_sha256", "input", "reader_options", "outputs", "chunk_records", "world_size")


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did."""

    output: Path
    scored: int
    bad: int
    seconds: float
    tokens: int
    padding_fraction: float

    @property
    def records_per_second(self) -> float:
        """Throughput over the records this run processed."""
        return (self.scored + self.bad) / max(self.seconds, 1e-9)


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
    chosen = choose_outputs(info.config, outputs)
    reader_options = {**info.extra.get("reader_options", {}), **(options or {})}
    records = read_records(host, info.config.domain, input_path, reader_options)
    first = list(itertools.islice(records, 1))  # file-level problems stop the run before any work
    net = load_checkpoint(model_dir, host, device)
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
        "world_size": shard.world,
        "command_line": " ".join(sys.argv),
        "start_time": dt.datetime.now(dt.timezone.utc).isoformat(),
        "dtype": dtype,
    }
    shard.start(device)
    writer = ResultWriter(shard.part(output), attributes, resume=resume, identity=IDENTITY)
    done_chunks = -(-writer.rows // chunk_records)
    mine = (chunk for index, chunk in enumerate(_chunks(itertools.chain(first, records), chunk_records)) if shard.owns(index))
    counts = {"scored": 0, "bad": 0, "tokens": 0, "padded": 0}
    clock = time.perf_counter()
    try:
        with _progress(progress and shard.rank == 0) as bar:
            task = bar.add_task("scoring", total=None)
            for encoded in encode_chunks(itertools.islice(mine, done_chunks, None), tokenizer, info.config, workers):
                columns, tokens, padded = score_encoded(net, tokenizer, encoded, chosen, batch_tokens, device, dtype)
                writer.append(columns, column_attributes(info.config))
                counts["scored"] += int((encoded.status == STATUS_SCORED).sum())
                counts["bad"] += int((encoded.status == STATUS_BAD).sum())
                counts["tokens"] += tokens
                counts["padded"] += padded
                elapsed = max(time.perf_counter() - clock, 1e-9)
                rate = f"{(counts['scored'] + counts['bad']) / elapsed:,.0f} records/s, {counts['tokens'] / elapsed:,.0f} tokens/s"
                bar.update(task, advance=len(encoded.status), description=f"scoring ({rate})")
    except BaseException:
        writer.abort()
        shard.stop()
        raise
    seconds = time.perf_counter() - clock
    scored, bad, tokens, padded = shard.sum([counts["scored"], counts["bad"], counts["tokens"], counts["padded"]])
    padding = 1.0 - tokens / padded if padded else 0.0
    summary = {"scored": scored, "bad": bad, "seconds": round(seconds, 3), "tokens": tokens, "padding_fraction": round(padding, 4)}
    final = {"end_time": dt.datetime.now(dt.timezone.utc).isoformat(), "summary": json.dumps(summary)}
    writer.close(final)
    if shard.world > 1:
        shard.barrier()
        if shard.rank == 0:
            parts = [Shard(rank, shard.world).part(output) for rank in range(shard.world)]
            merge_parts(parts, output, chunk_records, {**attributes, **final})
            for part in parts:
                part.unlink()
        shard.barrier()
        shard.stop()
    log.info("scored %d record(s), %d bad, in %.1f s", scored, bad, seconds)
    return ScoreSummary(output, scored, bad, seconds, tokens, padding)


def _check_request(output: Path, overwrite: bool, resume: bool, dtype: str, device: str) -> None:
    if output.exists() and not overwrite:
        raise InputFileError(f"output {output} exists; pass --overwrite to replace it")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    if not resume and partial_path(output).exists():
        partial_path(output).unlink()
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
    columns = empty_outputs(net.config, outputs, count)
    padded = 0
    with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
        for batch_rows in token_budget_batches(lengths, batch_tokens):
            chosen = [rows[i] for i in batch_rows]
            padded += max(lengths[i] for i in batch_rows) * len(batch_rows)
            batch = tokenizer.collate([chunk.encoded[r] for r in chosen], [chunk.record_ids[r] for r in chosen]).to(device)
            for name, values in batch_outputs(net.config, outputs, net(batch)).items():
                for row, value in zip(chosen, values):
                    columns[name][row] = value
    return {"record_id": np.array(chunk.record_ids, dtype=object), "status": chunk.status, "error": chunk.errors, **columns}, int(sum(lengths)), padded


def score_chunk(
    net: SciformerModel, tokenizer: Tokenizer, records: Sequence[Record], batch_tokens: int, device: str, dtype: str, outputs: Sequence[str] | None = None
) -> tuple[dict[str, np.ndarray], int]:
    """Score records in memory (no files): the columns a results file would hold, and the tokens seen."""
    columns, tokens, _ = score_encoded(net, tokenizer, encode_chunk(tokenizer, records), choose_outputs(net.config, outputs), batch_tokens, device, dtype)
    return columns, tokens


def _chunks(items: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), TextColumn("{task.completed} records"), TimeElapsedColumn(), disable=not enabled)
