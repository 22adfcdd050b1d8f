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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sciformer import __version__, int8_gate
from sciformer.checkpoint import CheckpointInfo, load_checkpoint, read_checkpoint_info, resolve_model, weights_sha256
from sciformer.data.results import STATUS_BAD, STATUS_PENDING, STATUS_SCORED, STRING, ChunkStore
from sciformer.domain import Tokenizer
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.inference import default_batch_tokens, inference_context, run_encoded
from sciformer.plugins import PluginHost
from sciformer.quantization import quantize_for_inference
from sciformer.reader_options import inference_options
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring.agreement import ChunkAgreement, lead_skill
from sciformer.scoring.encoding import EncodedChunk, encode_chunk, encode_chunks
from sciformer.scoring.lock import OutputLock
from sciformer.scoring.manifest import input_identity
from sciformer.scoring.ownership import check_request, prepare_output
from sciformer.scoring.scorer import Scorer, scorer_for
from sciformer.scoring.stopping import RunStopped, StopRequest, pause_after_chunk
from sciformer.scoring.summary import ScoreSummary
from sciformer.targets import for_scoring
from sciformer.world import World, process_group

log = logging.getLogger(__name__)

NON_FINITE = "non-finite model output"
CHUNK_RECORDS = 1024  # records read, tokenized and written at a time: memory stays flat


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
    single-process run. `batch_tokens` defaults by device (sciformer.inference.DEFAULT_BATCH_TOKENS). The run holds an
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
    lock = OutputLock(output)
    with process_group(device) as world:
        try:
            world.agree(lock.acquire, "could not take the lock of the output")
            return _score_owned(
                model, Path(input_path), output, host, world, options=options, outputs=outputs, batch_tokens=batch_tokens, device=str(world.device(device)),
                dtype=dtype, workers=workers, resume=resume, overwrite=overwrite, progress=progress, chunk_records=chunk_records, time_limit=time_limit,
                unless_asked=unless_asked,
            )
        finally:
            lock.release()


@dataclass
class ScoringRun:
    """What one scoring run works with, set up before any record is scored."""

    input_path: Path
    output: Path
    host: PluginHost
    world: World
    info: CheckpointInfo
    reader_options: dict[str, Any]
    records: Iterable[Record]
    scorer: Scorer
    tokenizer: Tokenizer
    outputs: tuple[str, ...]
    manifest: dict[str, Any]
    attributes: dict[str, Any]
    store: ChunkStore

    def read_again(self) -> Iterable[Record]:
        """The input's records read from the start (for counting, and for the ids of unscored chunks)."""
        return read_records(self.host, self.info.config.domain, self.input_path, self.reader_options)


def _score_owned(
    model: str | Path, input_path: Path, output: Path, host: PluginHost, world: World, *, options: Mapping[str, Any] | None, outputs: Sequence[str] | None,
    batch_tokens: int, device: str, dtype: str, workers: int, resume: bool, overwrite: bool, progress: bool, chunk_records: int, time_limit: float | None,
    unless_asked: Sequence[str],
) -> ScoreSummary:
    """The scoring run, once this process (or rank 0 of the job) owns the output: set up, score, finish."""
    run = _set_up(model, input_path, output, host, world, options, outputs, unless_asked, batch_tokens, device, dtype, chunk_records)
    finished = world.agree(lambda: prepare_output(run.store, json.loads(json.dumps(run.manifest)), resume, overwrite), "refused the run")
    if finished is not None:
        return finished
    done = run.store.done()
    chunks = NumberedChunks((for_scoring(record, run.info.config) for record in run.records), chunk_records)
    agreement = ChunkAgreement(run.info.config, run.outputs)
    stop = StopRequest(time_limit)
    clock = time.perf_counter()
    counts = _score_chunks(run, _chunks_to_score(chunks, world, run.store, done, agreement), agreement, stop, batch_tokens, dtype, workers,
                           progress, lambda bar, task: count_work_in_background(run.read_again, chunk_records, world, done, lambda n: bar.update(task, total=n)))
    return _finish(run, chunks, agreement, stop, counts, time.perf_counter() - clock, chunk_records)


def _set_up(
    model: str | Path, input_path: Path, output: Path, host: PluginHost, world: World, options: Mapping[str, Any] | None, outputs: Sequence[str] | None,
    unless_asked: Sequence[str], batch_tokens: int, device: str, dtype: str, chunk_records: int,
) -> ScoringRun:
    """Load the model, open the input and describe the run; file-level problems of the input stop it here."""
    model_dir = resolve_model(str(model), host)
    info = read_checkpoint_info(model_dir)
    if dtype == "int8":
        int8_gate.check(info)
    reader_options = inference_options(host, info, input_path, options)
    records = read_records(host, info.config.domain, input_path, reader_options)
    first = list(itertools.islice(records, 1))  # file-level problems stop the run before any work
    net = load_checkpoint(model_dir, host, device)
    if dtype == "int8":
        net = quantize_for_inference(net)  # once, before any chunk
    scorer = scorer_for(host, net, reader_options, model_dir)
    chosen = scorer.choose(outputs) if outputs else tuple(name for name in scorer.choose(None) if name not in unless_asked)
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
    return ScoringRun(input_path, output, host, world, info, reader_options, itertools.chain(first, records), scorer, host.tokenizer(info.config), chosen,
                      manifest, attributes, ChunkStore(output))


def _score_chunks(
    run: ScoringRun, todo: Iterable[tuple[int, list[Record]]], agreement: ChunkAgreement, stop: StopRequest, batch_tokens: int, dtype: str, workers: int,
    progress: bool, count_in_background: Callable[[Progress, Any], None],
) -> dict[str, int]:
    """Tokenize, score and write this rank's chunks until done or stopped; returns records, tokens and padded tokens."""
    counts = {"records": 0, "tokens": 0, "padded": 0}
    clock = time.perf_counter()
    shown = progress and run.world.is_main
    try:
        with stop, _progress(shown) as bar:
            task = bar.add_task("scoring", total=None)
            if shown:
                count_in_background(bar, task)
            for index, encoded in encode_chunks(todo, run.tokenizer, run.info.config, workers):
                columns, tokens, padded = score_encoded(run.scorer, run.tokenizer, encoded, run.outputs, batch_tokens, dtype, stop)
                run.store.write(index, columns, run.scorer.attributes())
                pause_after_chunk(index, stop)
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
    return counts


def _finish(run: ScoringRun, chunks: NumberedChunks, agreement: ChunkAgreement, stop: StopRequest, counts: dict[str, int], seconds: float, chunk_records: int) -> ScoreSummary:
    """Sum the ranks' counts, and on rank 0 write placeholders for unscored chunks and join the results file."""
    world, store = run.world, run.store
    processed, tokens, padded, stopped_ranks, labelled, total = world.sum_counts([counts["records"], counts["tokens"], counts["padded"], int(stop.reason is not None), *agreement.counts()])
    stopped = stop.reason or ("another rank stopped" if stopped_ranks else None)
    summary = ScoreSummary(run.output, 0, 0, seconds, tokens, 1.0 - tokens / padded if padded else 0.0, processed, stopped=stopped, agreement=agreement.result(labelled, total))
    world.barrier()
    if world.is_main:
        count = chunks.count
        if stopped_ranks:
            count = _write_placeholders(store, run.read_again(), chunk_records, run.scorer, run.outputs)
        if count == 0:
            log.warning("%s holds no records; writing a results file with every dataset at length 0", run.input_path)
            store.write(0, _empty_columns(run.scorer, run.outputs), run.scorer.attributes(), dtypes=_column_dtypes(run.scorer, run.outputs))
            count = 1
        statuses, noted = store.statuses(count)
        summary = dataclasses.replace(
            summary, scored=int((statuses == STATUS_SCORED).sum()), bad=int((statuses == STATUS_BAD).sum()),
            pending=int((statuses == STATUS_PENDING).sum()), noted=noted,
        )
        store.join(count, {**run.attributes, "end_time": dt.datetime.now(dt.timezone.utc).isoformat(), "summary": summary.as_dict()}, run.scorer.summarise)
        summary = dataclasses.replace(summary, skill=_file_skill(run.output))
    world.barrier()
    log.info("%d record(s) scored, %d bad; this run processed %d in %.1f s", summary.scored, summary.bad, processed, seconds)
    return summary


def _file_skill(output: Path) -> tuple[tuple[str, str, float], ...]:
    """A forecaster's RMSE per lead and channel from the finished file's skill/ group."""
    with h5py.File(output, "r") as results:
        return lead_skill(results)


def _chunks_to_score(chunks: NumberedChunks, world: World, store: ChunkStore, done: set[int], agreement: ChunkAgreement) -> Iterator[tuple[int, list[Record]]]:
    """The chunks of this rank that no earlier run scored; every chunk of this rank is shown to `agreement`."""
    for index, chunk in chunks:
        if world.owns(index):
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
    scorer: Scorer, tokenizer: Tokenizer, chunk: EncodedChunk, outputs: Sequence[str], batch_tokens: int | None, dtype: str, stop: StopRequest | None = None
) -> tuple[dict[str, np.ndarray], int, int]:
    """Run the model over one encoded chunk (on the model's device); returns its columns in input order,
    real and padded tokens. With `stop`, a requested stop is honoured between batches (RunStopped; the
    chunk is dropped). A record whose outputs are not finite becomes a bad record."""
    count = len(chunk.status)
    status, errors = chunk.status.copy(), chunk.errors.copy()
    rows = sorted(chunk.encoded)
    encoded = [chunk.encoded[r] for r in rows]
    lengths = [tokenizer.num_tokens(e) for e in encoded]
    columns = scorer.empty(outputs, count)
    padded = 0
    ids = [chunk.record_ids[r] for r in rows]
    for batch_rows, batch, result in run_encoded(
        scorer.model, tokenizer, encoded, ids, batch_tokens=batch_tokens, dtype=dtype, hidden_states=scorer.hidden_states, between_batches=stop.check if stop else None
    ):
        chosen = [rows[i] for i in batch_rows]
        padded += max(lengths[i] for i in batch_rows) * len(batch_rows)
        finite = finite_rows(result).tolist()
        for row, ok in zip(chosen, finite):
            if not ok:
                status[row], errors[row] = STATUS_BAD, NON_FINITE
        with inference_context(batch.padding_mask.device, dtype):  # a scorer may run the model again (forecasts)
            values = scorer.values(outputs, result, batch)
        for name, column in values.items():
            for row, value, ok in zip(chosen, column, finite):
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
    net: SciformerModel, tokenizer: Tokenizer, records: Sequence[Record], *, batch_tokens: int | None = None, dtype: str = "float32",
    outputs: Sequence[str] | None = None, scorer: Scorer | None = None,
) -> tuple[dict[str, np.ndarray], int]:
    """Score records in memory (no files) on the model's device: the columns a results file would hold,
    and the tokens seen. `scorer` defaults to the engine's (pass `scorer_for(host, net, options)` for a
    domain's own)."""
    scorer = scorer or Scorer(net)
    records = [for_scoring(record, net.config) for record in records]
    columns, tokens, _ = score_encoded(scorer, tokenizer, encode_chunk(tokenizer, records), scorer.choose(outputs), batch_tokens, dtype)
    return columns, tokens


def count_work_in_background(read: Callable[[], Iterable[Record]], chunk_records: int, world: World, done: set[int], report: Callable[[int], None]) -> None:
    """Count the records this rank has to score in a daemon thread (the input read again, not
    tokenized) and report the total, so the progress bar can show an ETA; only for interactive runs."""

    def count() -> None:
        try:
            total = sum(len(chunk) for index, chunk in NumberedChunks(read(), chunk_records) if world.owns(index) and index not in done)
        except Exception as error:  # the scoring loop reports real read errors; the bar just has no ETA  # noqa: BLE001
            log.debug("no record count for the progress bar: %s", error)
            return
        report(total)

    threading.Thread(target=count, name="sciformer-count", daemon=True).start()


def _progress(enabled: bool) -> Progress:
    columns = (TextColumn("{task.description}"), TextColumn("{task.completed} records"), BarColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    return Progress(*columns, disable=not enabled)
