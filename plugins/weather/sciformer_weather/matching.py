"""Whether a field file is what a model was trained on: each channel's units and the grid's coordinates.

A model keeps the units of its channels and its grid's latitudes / longitudes (`domain_options`) when its
training data gave them. A file in other units (degC for a model of K) or on another grid (latitudes
running south to north for a model trained north to south) would be forecast silently wrong: the
statistics and the learned positions are those of the training data. Such a file is refused in one line;
nothing is converted. What either side does not say is not compared: a file without units or coordinates
is read as today, as the model's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .grid import GridInfo
from .options import WeatherOptions

COORDINATE_TOLERANCE = 1e-3  # degrees (about 100 m): coordinates rounded to float32 pass, another grid does not
#: Spellings of one unit that files use interchangeably (CF and GRIB), mapped to one; any other difference refuses.
UNIT_SPELLINGS = {
    "kelvin": "K", "Kelvin": "K", "degK": "K", "deg_K": "K", "degrees_K": "K", "degree_K": "K",
    "celsius": "degC", "Celsius": "degC", "deg_C": "degC", "degree_Celsius": "degC", "degrees_Celsius": "degC", "°C": "degC",
}  # fmt: skip
#: How a coordinate runs when it ascends and when it descends.
DIRECTIONS = {"latitudes": ("south to north", "north to south"), "longitudes": ("west to east", "east to west")}


def mismatch(grid: GridInfo, options: WeatherOptions, where: str, model: str = "the model") -> str | None:
    """Why the file `where` (described by `grid`, with the model's channels) cannot be given to the model of
    `options` (named `model`), in one line: a channel's units, or its latitudes / longitudes (count, order,
    values), differ from those it was trained on; None when nothing both sides give differs."""
    return (
        units_mismatch(grid, options, where, model)
        or coordinate_mismatch("latitudes", grid.latitudes, options.latitudes, where, model)
        or coordinate_mismatch("longitudes", grid.longitudes, options.longitudes, where, model)
    )


def units_mismatch(grid: GridInfo, options: WeatherOptions, where: str, model: str) -> str | None:
    """The first channel whose units the file and the model both give and which differ, as one line."""
    if grid.units is None or options.units is None:
        return None
    trained = dict(zip(options.channels, options.units))
    for channel, unit in zip(grid.channels, grid.units):
        expected = trained.get(channel, "")
        if unit.strip() and expected.strip() and _spelling(unit) != _spelling(expected):
            return f"channel {channel} is in {unit} in {where}; {model} was trained on {expected}"
    return None


def coordinate_mismatch(name: str, given: Sequence[float] | None, trained: Sequence[float] | None, where: str, model: str) -> str | None:
    """How the file's `name` ("latitudes" or "longitudes", degrees) differ from the model's, as one line:
    their count, their order or their values (beyond COORDINATE_TOLERANCE; longitudes compared modulo 360)."""
    if given is None or trained is None:
        return None
    ours, theirs = np.asarray(given, dtype=np.float64), np.asarray(trained, dtype=np.float64)
    if ours.shape != theirs.shape:
        return f"{where} has {ours.size} {name}; {model} was trained on {theirs.size}"
    if not np.isfinite(ours).all():
        return f"the {name} of {where} are not all finite; {model} was trained on {theirs[0]:g} to {theirs[-1]:g}"
    wrap = name == "longitudes"
    gap = np.abs(_wrapped(ours - theirs) if wrap else ours - theirs)
    if gap.max(initial=0.0) <= COORDINATE_TOLERANCE:
        return None
    runs, ran = _direction(ours, wrap), _direction(theirs, wrap)
    if runs != ran and runs and ran:
        words = DIRECTIONS[name]
        return f"the {name} of {where} run {words[runs < 0]}; {model} was trained {words[ran < 0]}"
    return (
        f"the {name} of {where} ({ours[0]:g} to {ours[-1]:g}) differ from those {model} was trained on "
        f"({theirs[0]:g} to {theirs[-1]:g}) by up to {gap.max():.3g} degrees"
    )


def _spelling(unit: str) -> str:
    """One spelling of a unit (UNIT_SPELLINGS), surrounding blanks dropped."""
    unit = unit.strip()
    return UNIT_SPELLINGS.get(unit, unit)


def _wrapped(degrees: np.ndarray) -> np.ndarray:
    """Differences of longitude in [-180, 180): 350 and -10 are one meridian."""
    return (degrees + 180.0) % 360.0 - 180.0


def _direction(values: np.ndarray, wrap: bool) -> int:
    """+1 where the coordinate ascends overall, -1 where it descends, 0 for one value (steps of longitude wrapped)."""
    steps = np.diff(values)
    return int(np.sign((_wrapped(steps) if wrap else steps).sum()))
