"""Evaluating a trained molecule model on labelled records: RMSE / MAE / R^2 or ROC-AUC / accuracy.

These metrics need every prediction at once (ROC-AUC is not a sum over batches), so they are computed
here rather than by the trainer's per-batch counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model
from sciformer.errors import BadRecordError, ConfigError, InputFileError
from sciformer.inference import run_encoded
from sciformer.plugins import PluginHost
from sciformer.reader_options import inference_options
from sciformer.reading import read_records
from sciformer.records import Record

from sciformer_molecule.metrics import regression_metrics, roc_auc


def predict_records(model: str | Path, records: Sequence[Record], host: PluginHost, batch_tokens: int | None = None) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Predictions (N, K) (NaN rows for bad records), a (N,) mask of good records, and encoded targets."""
    model_dir = resolve_model(str(model), host)
    net = load_checkpoint(model_dir, host)
    tokenizer = host.tokenizer(net.config)
    encoded, rows, targets = [], [], [None] * len(records)
    for row, record in enumerate(records):
        try:
            encoding = tokenizer.encode(record)
        except BadRecordError:
            continue
        encoded.append(encoding)
        rows.append(row)
        targets[row] = encoding.target
    width = max(net.config.num_labels, 1)
    predictions = np.full((len(records), width), np.nan, dtype=np.float64)
    for batch_rows, _, output in run_encoded(net, tokenizer, encoded, [records[row].id for row in rows], batch_tokens=batch_tokens):
        values = output.prediction.float()
        if net.config.task == "sequence-classification":
            values = values.softmax(dim=-1)
        predictions[[rows[i] for i in batch_rows]] = values.numpy()
    good = np.zeros(len(records), dtype=bool)
    good[rows] = True
    return predictions, good, targets


def evaluate_records(model: str | Path, records: Sequence[Record], host: PluginHost) -> dict[str, float]:
    """Metrics of `model` (a checkpoint dir or shipped name) on records with targets; bad records are counted."""
    config = read_checkpoint_info(resolve_model(str(model), host)).config
    if config.task not in ("sequence-regression", "sequence-classification"):
        raise ConfigError(f"evaluation needs a sequence regression or classification model, got task {config.task!r}")
    predictions, good, targets = predict_records(model, records, host)
    good &= np.array([t is not None for t in targets], dtype=bool)
    labels = np.array([t if t is not None else np.nan for t in targets], dtype=np.float64)[good]
    metrics: dict[str, float] = {"records": float(good.sum()), "bad": float(len(records) - good.sum())}
    if config.task == "sequence-regression":
        return {**metrics, **regression_metrics(labels, predictions[good, 0])}
    probabilities = predictions[good]
    metrics["accuracy"] = float((probabilities.argmax(axis=1) == labels).mean())
    if config.num_labels == 2:
        metrics["roc_auc"] = roc_auc(labels == 1, probabilities[:, 1])
    return metrics


def evaluate_file(model: str | Path, path: Path, host: PluginHost, options: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Evaluate on a file read with the user's reader `options`; the targets come from the column the
    model was trained on when the file has it (or from `target_column`)."""
    info = read_checkpoint_info(resolve_model(str(model), host))
    records = list(read_records(host, info.config.domain, path, inference_options(host, info, path, options)))
    if records and all(record.target is None for record in records):
        raise InputFileError(f"{path}: no record has a target to evaluate against; name its column with --option target_column=NAME")
    return evaluate_records(info.path, records, host)
