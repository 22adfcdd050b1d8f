"""Exponential smoothing (ETS) forecasts of each window's context, a baseline fitted per record and channel.

Each channel's context is fitted on its own by statsmodels' Holt-Winters `ExponentialSmoothing`: an
additive damped trend, plus an additive season of `season` steps when the context holds at least two
seasons; smoothing parameters and initial states are estimated by least squares. Holt-Winters is used
rather than the state-space `ETSModel` because only point forecasts are needed: they agree with
`ETSModel`'s, and the fit costs a half to a third of the time (README, "ETS baseline").

The context is standardised before the fit and the forecast scaled back: additive models are
equivariant to that, and the optimiser then sees values near 1 whatever the series' units. A constant
context forecasts its value without a fit (every ETS model of it does). A fit that raises, reports no
convergence or forecasts a value that is not finite gives NaN for that record and channel, and is
counted, never replaced by another number. statsmodels is imported on the first fit only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np


@dataclass
class EtsForecasts:
    """Forecasts (B, H, C), NaN where a fit failed, and why each failed fit did ({(record, channel): reason})."""

    values: np.ndarray
    failures: dict[tuple[int, int], str] = field(default_factory=dict)


def seasonal_period(length: int, season: int | None) -> int | None:
    """The season the model uses for a context of `length` steps: `season` when it fits twice, else None."""
    return season if season is not None and season > 1 and length >= 2 * season else None


def ets_forecast(context: np.ndarray, horizon: int, season: int | None) -> EtsForecasts:
    """(B, L, C) finite contexts -> ETS forecasts (B, H, C) of every record and channel (see the module docstring)."""
    batch, length, channels = context.shape
    period = seasonal_period(length, season)
    out = EtsForecasts(np.full((batch, horizon, channels), np.nan, np.float32))
    for row in range(batch):
        for channel in range(channels):
            forecast, reason = fit_channel(context[row, :, channel].astype(np.float64), horizon, period)
            if reason is None:
                out.values[row, :, channel] = forecast
            else:
                out.failures[(row, channel)] = reason
    return out


def fit_channel(series: np.ndarray, horizon: int, period: int | None) -> tuple[np.ndarray | None, str | None]:
    """One channel's (L,) context -> (forecast (H,), None), or (None, why the fit failed)."""
    centre, scale = float(series.mean()), float(series.std())
    if scale == 0.0:
        return np.full(horizon, centre), None
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow inside the optimiser's trial steps
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            model = ExponentialSmoothing(
                (series - centre) / scale,
                trend="add",
                damped_trend=True,
                seasonal="add" if period else None,
                seasonal_periods=period,
                initialization_method="estimated",
            )
            fit = model.fit()
        except ConvergenceWarning:
            return None, "the fit did not converge"
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            return None, f"the fit failed ({type(error).__name__}: {error})"
    if not fit.mle_retvals.success:
        return None, f"the fit did not converge ({fit.mle_retvals.message})"
    forecast = np.asarray(fit.forecast(horizon)) * scale + centre
    if not np.isfinite(forecast).all():
        return None, "the fit forecast a value that is not finite"
    return forecast, None
