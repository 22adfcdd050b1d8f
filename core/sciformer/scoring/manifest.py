"""The manifest of a scoring run: everything that decides the numbers in its results file.

A resumed run must have the same manifest as the run it continues, or its rows would mix inputs,
checkpoints or precisions. The input is identified by its resolved path, size, modification time and
a content fingerprint: SHA-256 of the whole file up to FULL_HASH_LIMIT bytes; above that, of its size
and first and last HASH_EDGE bytes (a replaced or appended file changes those). A folder's fingerprint
covers every file in it, by relative path.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

FULL_HASH_LIMIT = 1 << 30  # files up to 1 GiB are hashed whole (about 1 s on this class of CPU)
HASH_EDGE = 1 << 20  # larger files: their size and first and last MiB
READ_BLOCK = 1 << 20


def input_identity(path: str | Path) -> dict[str, Any]:
    """Resolved path, size, latest modification time (ns) and content fingerprint of a file or folder."""
    path = Path(path).resolve()
    files = sorted(_files(path))
    digest = hashlib.sha256()
    for file in files:
        if path.is_dir():
            digest.update(os.fsencode(file.relative_to(path)) + b"\0")
        digest.update(file_fingerprint(file).encode())
    stats = [file.stat() for file in files]
    return {
        "path": str(path),
        "size": sum(s.st_size for s in stats),
        "mtime_ns": max((s.st_mtime_ns for s in stats), default=0),
        "fingerprint": digest.hexdigest(),
    }


def file_fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes; for files over FULL_HASH_LIMIT, of its size and both ends."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(READ_BLOCK), b""):
                digest.update(block)
            return digest.hexdigest()
        digest.update(f"size={size};".encode())
        digest.update(handle.read(HASH_EDGE))
        handle.seek(size - HASH_EDGE)
        digest.update(handle.read(HASH_EDGE))
    return "edges:" + digest.hexdigest()


def _files(path: Path) -> Iterator[Path]:
    if not path.is_dir():
        yield path
        return
    for folder, _, names in os.walk(path):
        for name in names:
            if (file := Path(folder) / name).is_file():
                yield file


def differences(found: Mapping[str, Any], wanted: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the settings that differ between two manifests (nested dicts compared key by key)."""
    changed = []
    for key in sorted(set(found) | set(wanted)):
        left, right = found.get(key), wanted.get(key)
        if isinstance(left, Mapping) and isinstance(right, Mapping):
            changed += differences(left, right, f"{prefix}{key}.")
        elif left != right:
            changed.append(f"{prefix}{key}")
    return changed


def describe_differences(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    """`name (before -> now)` for each differing setting; long values are shortened."""
    parts = []
    for name in differences(found, wanted):
        before, now = _lookup(found, name), _lookup(wanted, name)
        parts.append(f"{name} ({_short(before)} -> {_short(now)})")
    return ", ".join(parts)


def _lookup(manifest: Mapping[str, Any], dotted: str) -> Any:
    value: Any = manifest
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:18] + "..." + text[-18:]
