"""Batch scoring: stream records through a model into an HDF5 results file, resumable and sharded."""

from sciformer.scoring.pipeline import ScoreSummary, score, score_chunk

__all__ = ["ScoreSummary", "score", "score_chunk"]
