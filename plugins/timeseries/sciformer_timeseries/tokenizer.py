"""The time-series tokenizer: a window's context and target -> tensors; the embedder makes the patches.

Missing context values (NaN, from a reader run with `nan_policy=fill`) are filled with the channel's
last observed value (the first observed one before it) and marked in `extras["observed"]`, so the
instance statistics leave them out; missing target values are marked in `extras["target_mask"]` and
left out of the loss and the scores. A channel with no observed context value, an infinite value or a
window of the wrong shape makes the record bad.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.domain import Tokenizer
from sciformer.errors import BadRecordError
from sciformer.records import Record
from torch import Tensor

from .forecaster_settings import window_options
from .series import Window
from .time_features import time_features
from .transformer_embedding import FUTURE_TIME, PAST_TIME


class WindowEncoding(NamedTuple):
    """One encoded window: context (L, C) filled, its observed mask, the target (H, C) with its mask (or None),
    and for a model with time features those of its context and forecast steps (L + H, F)."""

    context: Tensor
    observed: Tensor
    target: Tensor | None
    target_mask: Tensor | None
    times: Tensor | None = None


def fill_missing(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(L, C) values with each missing one replaced by the channel's last observed value (the first observed one before it)."""
    steps = np.arange(len(values))[:, None]
    last = np.maximum.accumulate(np.where(observed, steps, -1), axis=0)
    first = observed.argmax(axis=0)
    source = np.where(last >= 0, last, first[None, :])
    return np.take_along_axis(values, source, axis=0)


class WindowTokenizer(Tokenizer):
    """Checks, fills and stacks windows; every window of a model has the same shape, so nothing is padded."""

    def __init__(self, config: ModelConfig) -> None:
        self.options = window_options(config)
        self.time_features: tuple[str, ...] = getattr(self.options, "time_features", ())

    def _array(self, record: Record, value: Any, steps: int, role: str) -> np.ndarray:
        """A (steps, C) float32 array of `value` (a univariate (steps,) one is taken as one channel)."""
        try:
            array = np.array(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise BadRecordError(
                record.id, f"{role} must be a (time, channel) array of numbers, got {type(value).__name__}"
            ) from None
        if array.ndim == 1 and self.options.num_channels == 1:
            array = array[:, None]
        expected = (steps, self.options.num_channels)
        if array.shape != expected:
            raise BadRecordError(record.id, f"{role} has shape {array.shape}; the model takes (time, channel) = {expected}")
        if np.isinf(array).any():
            raise BadRecordError(record.id, f"{role} holds an infinite value")
        return array

    def encode(self, record: Record) -> WindowEncoding:
        """A record -> WindowEncoding; raises BadRecordError for a bad window."""
        if record.error:
            raise BadRecordError(record.id, record.error)
        data = record.data.context if isinstance(record.data, Window) else record.data
        context = self._array(record, data, self.options.context_steps, "context")
        observed = np.isfinite(context)
        empty = np.flatnonzero(~observed.any(axis=0))
        if empty.size:
            names = self.options.channels or tuple(str(c) for c in range(self.options.num_channels))
            raise BadRecordError(record.id, f"channel {names[empty[0]]!r} has no observed value in the context")
        values = torch.from_numpy(fill_missing(context, observed) if not observed.all() else context)
        times = self._times(record)
        if record.target is None:
            return WindowEncoding(values, torch.from_numpy(observed), None, None, times)
        target = self._array(record, record.target, self.options.prediction_length, "target")
        known = np.isfinite(target)
        return WindowEncoding(
            values, torch.from_numpy(observed), torch.from_numpy(np.where(known, target, 0.0)), torch.from_numpy(known), times
        )

    def _times(self, record: Record) -> Tensor | None:
        """The time features of the window's context and forecast steps, for a model that uses them."""
        if not self.time_features:
            return None
        stamps = record.data.times if isinstance(record.data, Window) else None
        if stamps is None:
            raise BadRecordError(record.id, f"the model uses time features {list(self.time_features)}, but the series has no evenly spaced date-time stamps")
        return torch.from_numpy(time_features(stamps, self.time_features))

    def collate(self, encoded: Sequence[WindowEncoding], record_ids: Sequence[str]) -> TokenBatch:
        """features (B, L, C) in the series' units, `extras["observed"]` (B, L, C); for a model with time
        features `extras["past_time"]` (B, L, F) and `extras["future_time"]` (B, H, F); when any record has a
        target, targets (B, H, C) (0 where unknown) and `extras["target_mask"]` (B, H, C)."""
        count = len(encoded)
        per_channel = torch.tensor(self.options.token_positions)
        batch = TokenBatch(
            padding_mask=torch.ones(count, self.options.num_tokens, dtype=torch.bool),
            record_ids=list(record_ids),
            features=torch.stack([e.context for e in encoded]),
            positions=per_channel.expand(count, -1).clone(),
            extras={"observed": torch.stack([e.observed for e in encoded])},
        )
        if self.time_features:
            times = torch.stack([e.times for e in encoded])
            batch.extras[PAST_TIME], batch.extras[FUTURE_TIME] = times[:, : self.options.context_steps], times[:, self.options.context_steps :]
        if any(e.target is not None for e in encoded):
            shape = (self.options.prediction_length, self.options.num_channels)
            batch.targets = torch.stack([torch.zeros(shape) if e.target is None else e.target for e in encoded])
            batch.extras["target_mask"] = torch.stack(
                [torch.zeros(shape, dtype=torch.bool) if e.target_mask is None else e.target_mask for e in encoded]
            )
        return batch

    def num_tokens(self, encoded: WindowEncoding) -> int:
        """The encoder's tokens (the same for every window of a model)."""
        return self.options.num_tokens
