"""One rule for settings read from YAML, JSON or the command line: an unknown key is refused by name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sciformer.errors import ConfigError


def refuse_unknown(what: str, given: Iterable[str], known: Sequence[str], error: type[Exception] = ConfigError) -> None:
    """Raise `error` naming the keys of `given` that are not in `known`, with the known ones:
    `unknown {what} ['lr_rate']; known: ['lr', ...]`."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise error(f"unknown {what} {unknown}; known: {list(known)}")
