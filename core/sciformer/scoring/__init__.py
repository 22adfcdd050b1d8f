"""Batch scoring: stream records through a model into an HDF5 results file, resumable and sharded,
and from it into the format the output's suffix names (`score_to`)."""

from sciformer.scoring.destinations import score_to
from sciformer.scoring.pipeline import ScoreSummary, score, score_chunk

__all__ = ["ScoreSummary", "score", "score_chunk", "score_to"]
