"""Batch scoring: stream records through a model and write embeddings, predictions and per-record status."""

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
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sciformer import __version__
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model, weights_sha256
from sciformer.data.budget import token_budget_batches
from sciformer.data.results import STATUS_BAD, STATUS_SCORED, ResultWriter
from sciformer.domain import Tokenizer
from sciformer.config import ModelConfig
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.errors import BadRecordError, ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record

log = logging.getLogger(__name__)

CHUNK_RECORDS = 2048  # records read, tokenized and written at a time: memory stays flat
SEQUENCE_TASKS = ("sequence-classification", "sequence-regression")


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did."""

    output: Path
    scored: int
    bad: int
    seconds: float
    tokens: int

    @property
    def records_per_second(self) -> float:
        """Throughput over all records."""
        return (self.scored + self.bad) / max(self.seconds, 1e-9)


def score(
    model: str | Path,
    input_path: str | Path,
    output: str | Path,
    host: PluginHost,
    *,
    options: Mapping[str, Any] | None = None,
    batch_tokens: int = 16384,
    device: str = "cpu",
    dtype: str = "float32",
    overwrite: bool = False,
    progress: bool = False,
) -> ScoreSummary:
    """Score every record of `input_path` with `model` (a checkpoint dir or shipped name) into HDF5 `output`."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise InputFileError(f"output {output} exists; pass --overwrite to replace it")
    if dtype not in ("float32", "bfloat16"):
        raise ConfigError(f"dtype must be float32 or bfloat16, got {dtype!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available")
    model_dir = resolve_model(str(model), host)
    info = read_checkpoint_info(model_dir)
    reader_options = {**info.extra.get("reader_options", {}), **(options or {})}
    records = read_records(host, info.config.domain, input_path, reader_options)
    first = list(itertools.islice(records, 1))  # fail on file-level problems before any work
    net = load_checkpoint(model_dir, host, device)
    tokenizer = host.tokenizer(info.config)
    started = dt.datetime.now(dt.timezone.utc)
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
        "command_line": " ".join(sys.argv),
        "start_time": started.isoformat(),
        "dtype": dtype,
    }
    writer = ResultWriter(output, attributes)
    scored = bad = tokens = 0
    clock = time.perf_counter()
    try:
        with _progress(progress) as bar:
            task = bar.add_task("scoring", total=None)
            for chunk in _chunks(itertools.chain(first, records), CHUNK_RECORDS):
                columns, chunk_tokens = score_chunk(net, tokenizer, chunk, batch_tokens, device, dtype)
                writer.append(columns, attributes=_column_attributes(net))
                scored += int((columns["status"] == STATUS_SCORED).sum())
                bad += int((columns["status"] == STATUS_BAD).sum())
                tokens += chunk_tokens
                bar.update(task, advance=len(chunk), description=f"scoring ({tokens / max(time.perf_counter() - clock, 1e-9):,.0f} tokens/s)")
    except BaseException:
        writer.abort()
        raise
    seconds = time.perf_counter() - clock
    summary = {"scored": scored, "bad": bad, "seconds": round(seconds, 3), "tokens": tokens}
    writer.close({"end_time": dt.datetime.now(dt.timezone.utc).isoformat(), "summary": json.dumps(summary)})
    log.info("scored %d record(s), %d bad, in %.1f s", scored, bad, seconds)
    return ScoreSummary(output, scored, bad, seconds, tokens)


def score_chunk(net: SciformerModel, tokenizer: Tokenizer, records: Sequence[Record], batch_tokens: int, device: str, dtype: str) -> tuple[dict[str, np.ndarray], int]:
    """Tokenize and score one chunk of records; returns result columns in input order and tokens seen."""
    count = len(records)
    status = np.full(count, STATUS_SCORED, dtype=np.int8)
    errors = np.array([""] * count, dtype=object)
    encoded: dict[int, Any] = {}
    for row, record in enumerate(records):
        try:
            if record.error:
                raise BadRecordError(record.id, record.error)
            encoded[row] = tokenizer.encode(record)
        except BadRecordError as error:
            status[row], errors[row] = STATUS_BAD, error.reason
    rows = sorted(encoded)
    lengths = [tokenizer.num_tokens(encoded[r]) for r in rows]
    outputs = empty_outputs(net.config, count)
    with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
        for batch_rows in token_budget_batches(lengths, batch_tokens):
            chosen = [rows[i] for i in batch_rows]
            batch = tokenizer.collate([encoded[r] for r in chosen], [records[r].id for r in chosen]).to(device)
            for name, values in _row_outputs(net, net(batch)).items():
                outputs[name][chosen] = values
    columns = {"record_id": np.array([r.id for r in records], dtype=object), "status": status, "error": errors, **outputs}
    return columns, int(sum(lengths))


def empty_outputs(config: ModelConfig, count: int) -> dict[str, np.ndarray]:
    """Output columns for `count` records before scoring: NaN (floats) or -1 (class indices).

    Always `embedding` (N, D); for sequence classification `logits` and `probabilities` (N, K) and
    `prediction` (N,) class indices; for sequence regression `prediction` (N,) or (N, K).
    """
    columns = {"embedding": np.full((count, config.dim), np.nan, dtype=np.float32)}
    if config.task == "sequence-classification":
        columns["logits"] = np.full((count, config.num_labels), np.nan, dtype=np.float32)
        columns["probabilities"] = np.full((count, config.num_labels), np.nan, dtype=np.float32)
        columns["prediction"] = np.full(count, -1, dtype=np.int64)
    elif config.task == "sequence-regression":
        shape = (count,) if config.num_labels == 1 else (count, config.num_labels)
        columns["prediction"] = np.full(shape, np.nan, dtype=np.float32)
    return columns


def _row_outputs(net: SciformerModel, result: ModelOutput) -> dict[str, np.ndarray]:
    """Per-record outputs of a batch, matching `empty_outputs`."""
    out = {"embedding": result.pooled.float().cpu().numpy()}
    if net.config.task not in SEQUENCE_TASKS or result.prediction is None:
        return out
    prediction = result.prediction.float()
    if net.config.task == "sequence-classification":
        out["logits"] = prediction.cpu().numpy()
        out["probabilities"] = prediction.softmax(dim=-1).cpu().numpy()
        out["prediction"] = prediction.argmax(dim=-1).cpu().numpy()
    else:
        out["prediction"] = prediction.squeeze(-1).cpu().numpy() if net.config.num_labels == 1 else prediction.cpu().numpy()
    return out


def _column_attributes(net: SciformerModel) -> dict[str, dict[str, Any]]:
    labels = list(net.config.labels)
    return {"prediction": {"labels": labels}, "logits": {"labels": labels}, "probabilities": {"labels": labels}} if labels else {}


def _chunks(items: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} records"), TimeElapsedColumn(), TimeRemainingColumn(), disable=not enabled)
