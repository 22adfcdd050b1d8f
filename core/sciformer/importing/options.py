"""The `--option KEY=VALUE` settings of `sciformer import`, checked against what an importer accepts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sciformer.errors import ConfigError


def read_options(importer: str, options: Mapping[str, str], accepted: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """`options` converted by the `accepted` key -> converter table (int, float, str...); any other key,
    or a value the converter refuses, is a one-line ConfigError that lists what the importer accepts."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = f"it accepts {', '.join(sorted(accepted))}" if accepted else "it takes no options"
        raise ConfigError(f"import {importer}: unknown option(s) {', '.join(unknown)}; {takes}")
    values = {}
    for key, text in options.items():
        convert = accepted[key]
        try:
            values[key] = convert(text)
        except ValueError as error:
            raise ConfigError(f"import {importer}: option {key}={text!r} is not a valid {getattr(convert, '__name__', 'value')} ({error})") from error
    return values
