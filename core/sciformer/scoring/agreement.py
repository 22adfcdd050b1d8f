"""How well a run's predictions agree with what its input says they should be, for the summary.

Sequence classification reports accuracy and sequence regression RMSE, over the scored records whose
`Record.target` is set (a table read with `--option target_column=...`). Targets are encoded the way
the tokenizers encode them (`sciformer.targets.encode_target`); counts are summed chunk by chunk, the
chunks an earlier run scored read back from their files, so a resumed or sharded run reports the same
numbers as one uninterrupted run. A forecaster's file-level `skill/rmse_model` (lead, channel) gives
the RMSE per lead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciformer.config import ModelConfig
from sciformer.data.results import STATUS_SCORED
from sciformer.errors import BadRecordError
from sciformer.records import Record
from sciformer.targets import encode_target

METRICS = {"sequence-classification": "accuracy", "sequence-regression": "rmse"}
SKILL = "skill/rmse_model"  # a forecaster's mean RMSE per (lead, channel), written by its scorer


@dataclass
class Agreement:
    """Running agreement of predictions with targets: correct predictions, or summed squared errors."""

    metric: str  # accuracy | rmse
    records: int = 0
    total: float = 0.0

    @classmethod
    def for_run(cls, config: ModelConfig, outputs: Sequence[str]) -> Agreement | None:
        """The agreement a run can report: None unless the task has a target per record and the run
        writes `prediction` (a single value for regression)."""
        metric = METRICS.get(config.task or "")
        if metric is None or "prediction" not in outputs or (metric == "rmse" and config.num_labels != 1):
            return None
        return cls(metric)

    def add(self, predictions: np.ndarray, status: np.ndarray, targets: np.ndarray) -> None:
        """Count the scored rows of one chunk that have a target (NaN: none)."""
        keep = (status == STATUS_SCORED) & np.isfinite(targets)
        if self.metric == "accuracy":
            self.total += float((predictions[keep] == targets[keep]).sum())
        else:
            self.total += float(((predictions[keep].astype(np.float64) - targets[keep]) ** 2).sum())
        self.records += int(keep.sum())

    def add_chunk_file(self, path: Path, targets: np.ndarray) -> None:
        """Count a chunk an earlier run wrote."""
        with h5py.File(path, "r") as chunk:
            self.add(chunk["prediction"][:], chunk["status"][:], targets)

    def result(self) -> dict[str, Any] | None:
        """`{"metric", "value", "records"}`, or None when no scored record had a target."""
        if not self.records:
            return None
        mean = self.total / self.records
        return {"metric": self.metric, "value": round(math.sqrt(mean) if self.metric == "rmse" else mean, 6), "records": self.records}


class ChunkAgreement:
    """Agreement over a run's chunks: each chunk's targets noted when it is read, counted once its
    predictions are there (at once for a chunk an earlier run scored, from its file)."""

    def __init__(self, config: ModelConfig, outputs: Sequence[str]) -> None:
        self.config = config
        self.agreement = Agreement.for_run(config, outputs)
        self.targets: dict[int, np.ndarray] = {}  # chunks read, not yet scored: a few at a time

    def read(self, index: int, records: Sequence[Record], earlier: Path | None) -> None:
        """Note the targets of chunk `index`; `earlier` is its file when an earlier run scored it."""
        if self.agreement is None:
            return
        targets = chunk_targets(records, self.config)
        if earlier is not None:
            self.agreement.add_chunk_file(earlier, targets)
        else:
            self.targets[index] = targets

    def scored(self, index: int, columns: Mapping[str, np.ndarray]) -> None:
        """Count chunk `index` from its columns."""
        if self.agreement is not None:
            self.agreement.add(columns["prediction"], columns["status"], self.targets.pop(index))

    def counts(self) -> list[float]:
        """[records, total] of this process, for summing over ranks."""
        return [self.agreement.records, self.agreement.total] if self.agreement is not None else [0, 0.0]

    def result(self, records: int, total: float) -> dict[str, Any] | None:
        """The agreement of counts summed over every rank."""
        return Agreement(self.agreement.metric, int(records), total).result() if self.agreement is not None else None


def chunk_targets(records: Sequence[Record], config: ModelConfig) -> np.ndarray:
    """(N,) float64: each record's encoded target (class index or value), NaN where it has none or a
    target the tokenizer refuses (that record is bad)."""
    targets = np.full(len(records), np.nan)
    for row, record in enumerate(records):
        if record.target is None or record.error:
            continue
        try:
            value = encode_target(record, config)
        except BadRecordError:
            continue
        targets[row] = np.nan if value is None else value
    return targets


def lead_skill(results: h5py.File) -> tuple[tuple[str, str, float], ...]:
    """(lead, channel, RMSE) per lead and channel from a forecaster's `skill/` group; () without one."""
    if SKILL not in results:
        return ()
    dataset = results[SKILL]
    values = dataset[:]  # (L, C)
    hours = dataset.attrs.get("lead_hours")
    leads = [f"{h:g} h" for h in hours] if hours is not None else [f"{int(s)} step(s)" for s in dataset.attrs.get("leads", range(len(values)))]
    channels = [str(c) for c in dataset.attrs.get("channels", range(values.shape[1]))]
    return tuple((lead, channel, float(values[i, c])) for i, lead in enumerate(leads) for c, channel in enumerate(channels))


def describe(agreement: Mapping[str, Any] | None, skill: Sequence[tuple[str, str, float]] = ()) -> str:
    """The summary line's words on agreement: `accuracy 0.667 on 3 labelled records`,
    `RMSE per lead: t2m 1 h 0.41, 6 h 1.2`; empty when there is nothing to say."""
    parts = []
    if agreement:
        value = f"accuracy {agreement['value']:.3f}" if agreement["metric"] == "accuracy" else f"RMSE {agreement['value']:.4g}"
        count = agreement["records"]
        parts.append(f"{value} on {count} labelled record{'s' if count != 1 else ''}")
    if skill:
        channels = dict.fromkeys(channel for _, channel, _ in skill)
        per_channel = [f"{channel} " + ", ".join(f"{lead} {value:.3g}" for lead, c, value in skill if c == channel) for channel in channels]
        parts.append("RMSE per lead: " + "; ".join(per_channel))
    return "; ".join(parts)
