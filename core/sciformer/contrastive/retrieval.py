"""Scoring a contrastive model: embeddings of many records, recall@k in both directions against the
exact random baseline, and zero-shot classification by the nearest label embedding."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sciformer.contrastive.model import ContrastiveModel
from sciformer.data.budget import fixed_size_batches
from sciformer.domain import Tokenizer

DEFAULT_KS = (1, 5, 10)


@torch.inference_mode()
def embed_encoded(model: ContrastiveModel, side: str, tokenizer: Tokenizer, encoded: Sequence[tuple[str, Any]], batch_size: int, device: torch.device) -> Tensor:
    """(N, P) unit vectors of already-encoded records of one side, in order."""
    model.eval()
    rows = []
    for batch_rows in fixed_size_batches(len(encoded), batch_size):
        batch = tokenizer.collate([encoded[i][1] for i in batch_rows], [encoded[i][0] for i in batch_rows]).to(device)
        rows.append(model.embed(side, batch).float().cpu())
    return torch.cat(rows) if rows else torch.zeros(0, model.left_projection.out_features)


def random_hit_rate(candidates: int, relevant: int, k: int) -> float:
    """Probability that a random ranking of `candidates` items puts one of `relevant` in its top k."""
    k = min(k, candidates)
    return 1.0 - math.comb(candidates - relevant, k) / math.comb(candidates, k) if k else 0.0


@dataclass(frozen=True)
class Retrieval:
    """Recall@k of one direction and what a random ranking would score."""

    direction: str
    queries: int
    candidates: int
    recall: dict[int, float]
    random: dict[int, float]

    def as_metrics(self) -> dict[str, float]:
        """Flat metric names: `<direction>_recall@k` and `<direction>_random@k`."""
        out = {f"{self.direction}_recall@{k}": v for k, v in self.recall.items()}
        out.update({f"{self.direction}_random@{k}": v for k, v in self.random.items()})
        return out


def recall_at_k(query_vectors: Tensor, query_keys: Sequence[str], item_vectors: Tensor, item_keys: Sequence[str], direction: str, ks: Sequence[int] = DEFAULT_KS) -> Retrieval:
    """Recall@k over unique queries and unique candidates.

    Rows sharing a key are one query (one candidate); a query's relevant candidates are the items it
    is paired with in some row. A hit at k: a relevant candidate among the k most similar.
    """
    queries = _unique(query_keys)
    items = _unique(item_keys)
    relevant: dict[int, set[int]] = {}
    for q_key, i_key in zip(query_keys, item_keys):
        relevant.setdefault(queries[q_key], set()).add(items[i_key])
    q = query_vectors[_first_rows(query_keys, queries)]  # (Q, P)
    c = item_vectors[_first_rows(item_keys, items)]  # (C, P)
    order = (q @ c.T).argsort(dim=1, descending=True)  # (Q, C)
    ks = sorted({min(k, len(items)) for k in ks})
    recall, random = {}, {}
    for k in ks:
        top = order[:, :k].tolist()
        recall[k] = sum(bool(relevant[row] & set(top[row])) for row in range(len(queries))) / len(queries)
        random[k] = sum(random_hit_rate(len(items), len(relevant[row]), k) for row in range(len(queries))) / len(queries)
    return Retrieval(direction, len(queries), len(items), recall, random)


def zero_shot(record_vectors: Tensor, label_vectors: Tensor) -> list[int]:
    """Index of the nearest label embedding for each record (cosine similarity)."""
    return (record_vectors @ label_vectors.T).argmax(dim=1).tolist()


def _unique(keys: Sequence[str]) -> dict[str, int]:
    """Key -> index of first appearance order."""
    index: dict[str, int] = {}
    for key in keys:
        index.setdefault(key, len(index))
    return index


def _first_rows(keys: Sequence[str], unique: dict[str, int]) -> list[int]:
    """For each unique key (in index order) the first row that carries it."""
    first: dict[str, int] = {}
    for row, key in enumerate(keys):
        first.setdefault(key, row)
    return [first[key] for key in unique]
