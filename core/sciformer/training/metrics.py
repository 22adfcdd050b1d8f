"""Training metrics: which direction is better for each validation metric, one JSON line per optimizer
step, evaluation and epoch in `metrics.jsonl`, and the same scalars as TensorBoard events when asked
for and the `tensorboard` package is installed."""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciformer.errors import ConfigError, InputFileError

TENSORBOARD_DIR = "tensorboard"
LABELS = ("split", "step", "epoch")  # row fields that place a row rather than measure something

# Whether a larger value is better, for each metric a head or the contrastive trainer reports; the
# training mode (keep the lowest or the highest) follows from it.
HIGHER_IS_BETTER = {"loss": False, "mse": False, "rmse": False, "mae": False, "accuracy": True, "zero_shot_accuracy": True, "roc_auc": True, "balanced_accuracy": True}
RECALL = re.compile(r"(^|_)recall@\d+$")  # contrastive retrieval: left_to_right_recall@5, ...


def higher_is_better(metric: str) -> bool | None:
    """True when larger values of `metric` are better, False when smaller ones are, None when unknown."""
    if metric in HIGHER_IS_BETTER:
        return HIGHER_IS_BETTER[metric]
    return True if RECALL.search(metric) else None


def metric_mode(metric: str, mode: str | None) -> str:
    """The mode ("min" or "max") for `metric`: its direction; an explicit `mode` must agree with it and
    is required for a metric of unknown direction."""
    if mode is not None and mode not in ("min", "max"):
        raise ConfigError(f"training.mode must be min or max, got {mode!r}")
    higher = higher_is_better(metric)
    if higher is None:
        if mode is None:
            raise ConfigError(f"training.metric {metric!r} has no known direction; set training.mode to min or max")
        return mode
    derived = "max" if higher else "min"
    if mode is not None and mode != derived:
        better = "higher" if higher else "lower"
        raise ConfigError(f"training.mode {mode} contradicts training.metric {metric} ({better} is better); set mode {derived} or leave it out")
    return derived


def tensorboard_writer(directory: Path, purge_step: int | None = None) -> Any:
    """A TensorBoard SummaryWriter on `directory`; ConfigError when the package is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ConfigError(f"training.tensorboard is true but TensorBoard cannot be imported ({error}); install the tensorboard package or set it to false") from None
    return SummaryWriter(log_dir=str(directory), purge_step=purge_step)


class MetricsLog:
    """Appends rows to `metrics.jsonl`; mirrors numeric fields to TensorBoard as `<split>/<name>` when
    a writer is given. Only rank 0 of a distributed run holds one."""

    def __init__(self, path: Path, tensorboard: Any = None) -> None:
        self.path = path
        self.tensorboard = tensorboard

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row (a JSON object with at least `split` and `step`)."""
        with open(self.path, "a") as handle:
            handle.write(json.dumps(dict(row)) + "\n")
        if self.tensorboard is not None:
            for name, value in row.items():
                if name not in LABELS and isinstance(value, numbers.Real):
                    self.tensorboard.add_scalar(f"{row['split']}/{name}", float(value), int(row.get("step", 0)))

    def close(self) -> None:
        """Flush and close the TensorBoard writer, if any."""
        if self.tensorboard is not None:
            self.tensorboard.close()


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl file."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise InputFileError(f"metrics file not found: {path}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise InputFileError(f"{path}, line {number}: not a JSON object ({error})") from None
    return rows


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the rows written after the step a run resumes from."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(row + "\n" for row in rows))
