"""Reading records of a domain from a path, through the reader a plugin registered for its format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost
from sciformer.records import Record


def read_records(host: PluginHost, domain: str, path: str | Path, options: Mapping[str, Any] | None = None) -> Iterator[Record]:
    """Stream the records of `path` (file or folder) with the domain's reader for its suffix."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"input not found: {path}")
    reader = host.reader_for(domain, path)
    try:
        yield from reader.read(path, dict(options or {}))
    except (OSError, UnicodeDecodeError) as error:
        raise InputFileError(f"{path}: cannot be read as {reader.name} ({error})") from error
