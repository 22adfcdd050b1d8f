"""Records: what readers yield and tokenizers consume, one per input item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Record:
    """One input item of a domain.

    `data` is the domain's payload (a sequence string, a SMILES, an image array, ...); `target` is the
    training label when there is one; `error` is set by a reader that could not read the record, so
    the record is reported as bad instead of stopping the run.
    """

    id: str
    data: Any
    target: Any = None
    error: str | None = None


@dataclass(frozen=True)
class ExampleRecords:
    """Small good and bad records a plugin supplies so tests can exercise its domain with nothing else."""

    good: tuple[Record, ...]
    bad: tuple[Record, ...] = field(default_factory=tuple)
