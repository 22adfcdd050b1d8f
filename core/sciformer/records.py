"""Records: what readers yield and tokenizers consume, one per input item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Record:
    """One input item of a domain.

    `data` is the domain's payload (a sequence string, a SMILES, an image array, ...); `target` is the
    training label when there is one; `error` is set by a reader that could not read the record, so
    the record is reported as bad instead of stopping the run; `warning` is set by a reader that read
    the record only in part (a truncated file): the record is still scored, with the warning in the
    results' `error` column.
    """

    id: str
    data: Any
    target: Any = None
    error: str | None = None
    warning: str | None = None


@dataclass(frozen=True)
class ExampleRecords:
    """Small good and bad records a plugin supplies so tests can exercise its domain with nothing else.

    `good` records should differ in size (so batches pad) and carry targets for `config["task"]`;
    each `bad` record must be rejected by the tokenizer (or carry a reader `error`). `config` holds
    small model settings (merged over the domain's defaults) that make the harness fast, including
    the task to train, e.g. `{"dim": 32, "depth": 2, "heads": 2, "task": "sequence-regression", "num_labels": 1}`.
    """

    good: tuple[Record, ...]
    bad: tuple[Record, ...] = field(default_factory=tuple)
    config: Mapping[str, Any] = field(default_factory=dict)
