"""Class names learned from training records: sequence-level classes or residue-level label letters."""

from __future__ import annotations

from collections.abc import Sequence

from sciformer.config import ModelConfig
from sciformer.records import Record
from sciformer.targets import class_names


def complete_labels(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """`config` with `labels` / `num_labels` filled in from the records' targets when not given."""
    if config.labels:
        return config
    if config.task == "sequence-classification":
        labels = class_names(r.target for r in records)
    elif config.task == "token-classification":
        unlabelled = str(config.option("unlabelled", "."))
        letters = {letter for r in records if isinstance(r.target, str) for letter in r.target}
        labels = tuple(sorted(letters - {unlabelled}))
    else:
        return config
    return config.replace(labels=labels, num_labels=len(labels))
