"""The scoring pipeline: read -> tokenize (workers) -> token-budget batches -> model -> HDF5, in input order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sciformer import __version__
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model, weights_sha256
from sciformer.data.budget import token_budget_batches
from sciformer.data.results import STATUS_BAD, STATUS_PENDING, STATUS_SCORED, STRING, ChunkStore
from sciformer.domain import Tokenizer
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.plugins import PluginHost
from sciformer.reader_options import inference_options
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring.agreement import ChunkAgreement, lead_skill
from sciformer.scoring.encoding import EncodedChunk, encode_chunk, encode_chunks
from sciformer.scoring.lock import OutputLock
from sciformer.scoring.manifest import input_identity
from sciformer.scoring.ownership import check_request, prepare_output
from sciformer.scoring.scorer import Scorer, scorer_for
from sciformer.scoring.sharding import Shard
from sciformer.scoring.stopping import RunStopped, StopRequest, pause_after_chunk
from sciformer.scoring.summary import ScoreSummary

log = logging.getLogger(__name__)

NON_FINITE = "non-finite model output"
CHUNK_RECORDS = 1024  # records read, tokenized and written at a time: memory stays flat
# Token budget per batch when none is given. On the CPU, activations of 4,096 tokens stay in cache:
# ESM-2 35M scores 1.44x faster than at 16,384, small models up to 1.16x (benchmarks/NOTES.md).
DEFAULT_BATCH_TOKENS = {"cpu": 4096, "cuda": 16384}


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
    unless_asked: Sequence[str] = (),
) -> ScoreSummary:
    """Score every record of `input_path` with `model` (a checkpoint dir or shipped name) into HDF5 `output`.

    Under torchrun the records are sharded over the ranks and the result is one file, identical to a
    single-process run. `batch_tokens` defaults by device (DEFAULT_BATCH_TOKENS). The run holds an
    exclusive lock on `output` (`OUT.lock`). `resume` continues a stopped run from its last complete
    chunk, after checking that its manifest (input contents, checkpoint, dtype, outputs, options, ...)
    is the same; over a finished file with the same manifest there is nothing to do. On SIGTERM /
    SIGINT, or after `time_limit` seconds, the run stops early and still writes `output`, with the
    records it did not reach marked status 2; the summary's `stopped` says why (on every rank).
    Outputs named in `unless_asked` are left out of the defaults: written only when `outputs` names them.
    The summary reports agreement with the input's targets where records have them (scoring.agreement).
    """
    output = Path(output)
    batch_tokens = batch_tokens or default_batch_tokens(device)
    check_request(output, resume, overwrite, dtype, device, batch_tokens, chunk_records, workers, time_limit)
    shard = Shard.from_environment()
    shard.start(device)
    lock = OutputLock(output)
    try:
        shard.agree(lock.acquire, "could not take the lock of the output")
        return _score_owned(
            model, Path(input_path), output, host, shard, options=options, outputs=outputs, batch_tokens=batch_tokens, device=device, dtype=dtype,
            workers=workers, resume=resume, overwrite=overwrite, progress=progress, chunk_records=chunk_records, time_limit=time_limit,
            unless_asked=unless_asked,
        )
    finally:
        lock.release()
        shard.stop()


def _score_owned(
    model: str | Path, input_path: Path, output: Path, host: PluginHost, shard: Shard, *, options: Mapping[str, Any] | None, outputs: Sequence[str] | None,
    batch_tokens: int, device: str, dtype: str, workers: int, resume: bool, overwrite: bool, progress: bool, chunk_records: int, time_limit: float | None,
    unless_asked: Sequence[str],
) -> ScoreSummary:
    """The scoring run, once this process (or rank 0 of the job) owns the output."""
    model_dir = resolve_model(str(model), host)
    info = read_checkpoint_info(model_dir)
    reader_options = inference_options(host, info, input_path, options)
    records = read_records(host, info.config.domain, input_path, reader_options)
    first = list(itertools.islice(records, 1))  # file-level problems stop the run before any work
    net = load_checkpoint(model_dir, host, device)
    scorer = scorer_for(host, net, reader_options, model_dir)
    chosen = scorer.choose(outputs) if outputs else tuple(name for name in scorer.choose(None) if name not in unless_asked)
    tokenizer = host.tokenizer(info.config)
    plugin = host.domain_plugin(info.config.domain)
    manifest = {
        "input": input_identity(input_path),
        "checkpoint_sha256": weights_sha256(model_dir),
        "dtype": dtype,
        "device": torch.device(device).type,
        "outputs": list(chosen),
        "reader_options": reader_options,
        "chunk_records": chunk_records,
        "batch_tokens": batch_tokens,
        "sciformer_version": __version__,
        "plugin": plugin.name,
        "plugin_version": plugin.version,
    }
    attributes = {
        "sciformer_version": __version__,
        "plugin": plugin.name,
        "plugin_version": plugin.version,
        "checkpoint": str(model_dir),
        "checkpoint_sha256": manifest["checkpoint_sha256"],
        "model_config": info.config.to_dict(),
        "input": str(input_path),
        "reader_options": reader_options,
        "outputs": list(chosen),
        "chunk_records": chunk_records,
        "command_line": " ".join(sys.argv),
        "start_time": dt.datetime.now(dt.timezone.utc).isoformat(),
        "dtype": dtype,
        "run_manifest": manifest,
    }
    store = ChunkStore(output)
    finished = shard.agree(lambda: prepare_output(store, json.loads(json.dumps(manifest)), resume, overwrite), "refused the run")
    if finished is not None:
        return finished
    done = store.done()
    chunks = NumberedChunks(itertools.chain(first, records), chunk_records)
    agreement = ChunkAgreement(info.config, chosen)
    todo = _chunks_to_score(chunks, shard, store, done, agreement)
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
                pause_after_chunk(index)
                agreement.scored(index, columns)
                counts["records"] += len(encoded.status)
                counts["tokens"] += tokens
                counts["padded"] += padded
                elapsed = max(time.perf_counter() - clock, 1e-9)
                rate = f"{counts['records'] / elapsed:,.0f} records/s, {counts['tokens'] / elapsed:,.0f} tokens/s"
                bar.update(task, advance=len(encoded.status), description=f"scoring ({rate})")
                stop.check(deadline=True)
    except RunStopped as request:
        log.warning("scoring stopped early (%s); writing the records not yet scored as status 2", request.reason)
    seconds = time.perf_counter() - clock
    processed, tokens, padded, stopped_ranks, labelled, total = shard.sum([counts["records"], counts["tokens"], counts["padded"], int(stop.reason is not None), *agreement.counts()])
    stopped = stop.reason or ("another rank stopped" if stopped_ranks else None)
    summary = ScoreSummary(output, 0, 0, seconds, tokens, 1.0 - tokens / padded if padded else 0.0, processed, stopped=stopped, agreement=agreement.result(labelled, total))
    shard.barrier()
    if shard.rank == 0:
        count = chunks.count
        if stopped_ranks:
            count = _write_placeholders(store, read_records(host, info.config.domain, input_path, reader_options), chunk_records, scorer, chosen)
        if count == 0:
            log.warning("%s holds no records; writing a results file with every dataset at length 0", input_path)
            store.write(0, _empty_columns(scorer, chosen), scorer.attributes(), dtypes=_column_dtypes(scorer, chosen))
            count = 1
        statuses, noted = store.statuses(count)
        summary = dataclasses.replace(
            summary, scored=int((statuses == STATUS_SCORED).sum()), bad=int((statuses == STATUS_BAD).sum()),
            pending=int((statuses == STATUS_PENDING).sum()), noted=noted,
        )
        store.join(count, {**attributes, "end_time": dt.datetime.now(dt.timezone.utc).isoformat(), "summary": summary.as_dict()}, scorer.summarise)
        summary = dataclasses.replace(summary, skill=_file_skill(output))
    shard.barrier()
    log.info("%d record(s) scored, %d bad; this run processed %d in %.1f s", summary.scored, summary.bad, processed, seconds)
    return summary


def _file_skill(output: Path) -> tuple[tuple[str, str, float], ...]:
    """A forecaster's RMSE per lead and channel from the finished file's skill/ group."""
    with h5py.File(output, "r") as results:
        return lead_skill(results)


def _chunks_to_score(chunks: NumberedChunks, shard: Shard, store: ChunkStore, done: set[int], agreement: ChunkAgreement) -> Iterator[tuple[int, list[Record]]]:
    """The chunks of this rank that no earlier run scored; every chunk of this rank is shown to `agreement`."""
    for index, chunk in chunks:
        if shard.owns(index):
            agreement.read(index, chunk, store.path(index) if index in done else None)
            if index not in done:
                yield index, chunk


def _empty_columns(scorer: Scorer, outputs: Sequence[str]) -> dict[str, np.ndarray]:
    """Every column of a results file at length 0 (an input with no records)."""
    base = {"record_id": np.zeros(0, dtype=object), "status": np.zeros(0, dtype=np.int8), "error": np.zeros(0, dtype=object)}
    return {**base, **scorer.empty(outputs, 0)}


def _column_dtypes(scorer: Scorer, outputs: Sequence[str]) -> dict[str, Any]:
    """HDF5 types of the columns whose values cannot tell it: strings, and ragged vectors per row."""
    specs = scorer.columns()
    ragged = {name: h5py.vlen_dtype(np.dtype(specs[name].dtype)) for name in outputs if specs[name].shape is None}
    return {"record_id": STRING, "error": STRING, **ragged}


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


def score_encoded(
    scorer: Scorer, tokenizer: Tokenizer, chunk: EncodedChunk, outputs: Sequence[str], batch_tokens: int, device: str, dtype: str, stop: StopRequest | None = None
) -> tuple[dict[str, np.ndarray], int, int]:
    """Run the model over one encoded chunk; returns its columns in input order, real and padded tokens.

    With `stop`, a requested stop is honoured between batches (RunStopped; the chunk is dropped)."""
    count = len(chunk.status)
    status, errors = chunk.status.copy(), chunk.errors.copy()
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
            result = scorer.model(batch)
            finite = finite_rows(result).tolist()
            for row, ok in zip(chosen, finite):
                if not ok:
                    status[row], errors[row] = STATUS_BAD, NON_FINITE
            for name, values in scorer.values(outputs, result, batch).items():
                for row, value, ok in zip(chosen, values, finite):
                    if ok:
                        columns[name][row] = value
    return {"record_id": np.array(chunk.record_ids, dtype=object), "status": status, "error": errors, **columns}, int(sum(lengths)), padded


def finite_rows(result: ModelOutput) -> torch.Tensor:
    """(B,) True where a record's pooled output and head prediction are all finite (padding ignored)."""
    finite = torch.isfinite(result.pooled.float()).all(dim=1)
    prediction = result.prediction
    if isinstance(prediction, torch.Tensor) and prediction.is_floating_point():
        mask = result.embedded.padding_mask
        if prediction.dim() >= 2 and prediction.shape[:2] == mask.shape:
            prediction = prediction.masked_fill(~mask.reshape(*mask.shape, *[1] * (prediction.dim() - 2)), 0)
        finite &= torch.isfinite(prediction.float()).reshape(prediction.shape[0], -1).all(dim=1)
    return finite


def score_chunk(
    net: SciformerModel, tokenizer: Tokenizer, records: Sequence[Record], batch_tokens: int, device: str, dtype: str, outputs: Sequence[str] | None = None,
    scorer: Scorer | None = None,
) -> tuple[dict[str, np.ndarray], int]:
    """Score records in memory (no files): the columns a results file would hold, and the tokens seen.

    `scorer` defaults to the engine's (pass `scorer_for(host, net, options)` for a domain's own)."""
    scorer = scorer or Scorer(net)
    columns, tokens, _ = score_encoded(scorer, tokenizer, encode_chunk(tokenizer, records), scorer.choose(outputs), batch_tokens, device, dtype)
    return columns, tokens


def count_work_in_background(read: Callable[[], Iterable[Record]], chunk_records: int, shard: Shard, done: set[int], report: Callable[[int], None]) -> None:
    """Count the records this rank has to score in a daemon thread (the input read again, not
    tokenized) and report the total, so the progress bar can show an ETA; only for interactive runs."""

    def count() -> None:
        try:
            total = sum(len(chunk) for index, chunk in NumberedChunks(read(), chunk_records) if shard.owns(index) and index not in done)
        except Exception as error:  # the scoring loop reports real read errors; the bar just has no ETA  # noqa: BLE001
            log.debug("no record count for the progress bar: %s", error)
            return
        report(total)

    threading.Thread(target=count, name="sciformer-count", daemon=True).start()


def _progress(enabled: bool) -> Progress:
    columns = (TextColumn("{task.description}"), TextColumn("{task.completed} records"), BarColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    return Progress(*columns, disable=not enabled)
