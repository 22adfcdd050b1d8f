"""Batching by token budget: records of similar length together, so little compute goes to padding."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def token_budget_batches(lengths: Sequence[int], max_tokens: int, *, generator: torch.Generator | None = None) -> list[list[int]]:
    """Group record indices into batches whose padded size (longest x count) stays within `max_tokens`.

    Records are sorted by length (ties broken at random when a generator is given) and packed greedily;
    a record longer than the budget gets a batch of its own. With a generator the batch order is shuffled.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    count = len(lengths)
    tie_break = torch.randperm(count, generator=generator).tolist() if generator is not None else list(range(count))
    order = sorted(range(count), key=lambda i: (lengths[i], tie_break[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        candidate = max(longest, lengths[index])
        if current and candidate * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, candidate = [], lengths[index]
        current.append(index)
        longest = candidate
    if current:
        batches.append(current)
    if generator is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def fixed_size_batches(count: int, batch_size: int, *, generator: torch.Generator | None = None) -> list[list[int]]:
    """Consecutive batches of `batch_size` record indices, in a random order when a generator is given."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = torch.randperm(count, generator=generator).tolist() if generator is not None else list(range(count))
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]


def padding_fraction(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """Share of the padded batch area that is padding."""
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches if batch)
    real = sum(lengths[i] for batch in batches for i in batch)
    return 0.0 if padded == 0 else 1.0 - real / padded
