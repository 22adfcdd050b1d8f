"""One rule for settings read from YAML, JSON or the command line: an unknown key is refused by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sciformer.errors import ConfigError

Settings = TypeVar("Settings")


def refuse_unknown(what: str, given: Iterable[str], known: Sequence[str], error: type[Exception] = ConfigError) -> None:
    """Raise `error` naming the keys of `given` that are not in `known`, with the known ones:
    `unknown {what} ['lr_rate']; known: ['lr', ...]`."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise error(f"unknown {what} {unknown}; known: {list(known)}")


def dataclass_from(cls: type[Settings], what: str, data: Mapping[str, Any]) -> Settings:
    """An instance of the dataclass `cls` from `data`, refusing by name every key that is not one of its fields."""
    refuse_unknown(what, data, sorted(f.name for f in dataclasses.fields(cls)))
    return cls(**data)
