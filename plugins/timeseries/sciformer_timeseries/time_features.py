"""Calendar features of time stamps, each in [-0.5, 0.5] (GluonTS's `time_features_from_frequency_str`
set, which the encoder-decoder forecaster's published checkpoints were trained with)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Feature = Callable[[np.ndarray], np.ndarray]  # datetime64[s] (T,) -> float32 (T,)


def _field(times: np.ndarray, unit: str, origin: str) -> np.ndarray:
    """Whole `unit`s since the start of the enclosing `origin` period (hours in the day, days in the month ...)."""
    return (times.astype(f"datetime64[{unit}]") - times.astype(f"datetime64[{origin}]").astype(f"datetime64[{unit}]")).astype(np.int64)


TIME_FEATURES: dict[str, Feature] = {
    "minute_of_hour": lambda t: _field(t, "m", "h") / 59.0 - 0.5,
    "hour_of_day": lambda t: _field(t, "h", "D") / 23.0 - 0.5,
    "day_of_week": lambda t: ((t.astype("datetime64[D]").astype(np.int64) + 3) % 7) / 6.0 - 0.5,  # 1970-01-01 was a Thursday
    "day_of_month": lambda t: _field(t, "D", "M") / 30.0 - 0.5,
    "day_of_year": lambda t: _field(t, "D", "Y") / 365.0 - 0.5,
    "month_of_year": lambda t: _field(t, "M", "Y") / 11.0 - 0.5,
}


def time_features(times: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(T,) datetime64 stamps -> (T, F) float32 features `names`, in that order."""
    stamps = times.astype("datetime64[s]")
    return np.stack([TIME_FEATURES[name](stamps) for name in names], axis=-1).astype(np.float32) if names else np.zeros((len(stamps), 0), np.float32)
