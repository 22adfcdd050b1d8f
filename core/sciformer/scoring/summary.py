"""What a scoring run did, as `score` returns it and the results file records it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciformer.scoring.agreement import describe as describe_agreement


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did: the whole file's scored, bad and pending records, and this run's work."""

    output: Path
    scored: int
    bad: int
    seconds: float
    tokens: int
    padding_fraction: float
    processed: int  # records this run tokenized and scored (fewer than scored + bad after --resume)
    pending: int = 0  # records not yet scored (status 2) when the run stopped early
    noted: int = 0  # scored records with a note in `error` (the model saw them only in part, ...)
    stopped: str | None = None  # why the run stopped early (SIGTERM, SIGINT, time limit)
    up_to_date: bool = False  # --resume found the file finished with the same manifest: nothing was done
    agreement: Mapping[str, Any] | None = None  # accuracy or RMSE against the input's targets (scoring.agreement)
    skill: tuple[tuple[str, str, float], ...] = ()  # a forecaster's (lead, channel, RMSE) from the file's skill/ group

    @property
    def records_per_second(self) -> float:
        """Throughput over the records this run processed."""
        return self.processed / max(self.seconds, 1e-9)

    def as_dict(self) -> dict[str, Any]:
        """The summary stored in the results file."""
        summary = {"scored": self.scored, "noted": self.noted, "bad": self.bad, "pending": self.pending, "processed": self.processed, "seconds": round(self.seconds, 3)}
        summary.update({"tokens": self.tokens, "padding_fraction": round(self.padding_fraction, 4)})
        if self.agreement:
            summary["agreement"] = dict(self.agreement)
        return {**summary, "stopped": self.stopped} if self.stopped else summary

    def agreement_text(self) -> str:
        """Agreement with the input's labels, or skill per lead, in words; empty when there is none."""
        return describe_agreement(self.agreement, self.skill)
