"""A conformer cache, so each molecule is embedded once: an in-process LRU, optionally backed by a folder.

Keys are the canonical SMILES plus every setting that changes the geometry. The folder (given by the
`SCIFORMER_MOLECULE_CACHE` environment variable, or explicitly) holds one small `.npz` per molecule,
written atomically, so concurrent processes and repeated runs share conformers.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sciformer_molecule.geometry import Geometry

log = logging.getLogger(__name__)

CACHE_ENV = "SCIFORMER_MOLECULE_CACHE"
CacheKey = tuple  # (canonical SMILES, geometry settings ...)


class ConformerCache:
    """LRU of Geometry by key, with an optional on-disk layer; counts hits and computations."""

    def __init__(self, max_entries: int = 100_000, directory: str | Path | None = None) -> None:
        self.max_entries = max_entries
        self.directory = Path(directory) if directory else None
        self.entries: OrderedDict[CacheKey, Geometry] = OrderedDict()
        self.hits = 0
        self.computed = 0

    @classmethod
    def from_environment(cls) -> ConformerCache:
        """A cache whose folder is `$SCIFORMER_MOLECULE_CACHE` when set."""
        return cls(directory=os.environ.get(CACHE_ENV) or None)

    def get(self, key: CacheKey, compute: Callable[[], Geometry]) -> Geometry:
        """The cached geometry for `key`, computing (and storing) it on a miss."""
        if key in self.entries:
            self.entries.move_to_end(key)
            self.hits += 1
            return self.entries[key]
        geometry = self._load(key)
        if geometry is None:
            geometry = compute()
            self.computed += 1
            self._store(key, geometry)
        else:
            self.hits += 1
        self.entries[key] = geometry
        if len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return geometry

    def _path(self, key: CacheKey) -> Path:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()
        return self.directory / digest[:2] / f"{digest}.npz"

    def _load(self, key: CacheKey) -> Geometry | None:
        if self.directory is None:
            return None
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) != repr(key):  # a hash collision or a foreign file
                    return None
                kind = str(data["kind"])
                if "coordinates" in data:
                    return Geometry(kind, coordinates=data["coordinates"])
                return Geometry(kind, distances=data["distances"])
        except (OSError, KeyError, ValueError) as error:
            log.warning("ignoring unreadable conformer cache file %s (%s)", path, error)
            return None

    def _store(self, key: CacheKey, geometry: Geometry) -> None:
        if self.directory is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"coordinates": geometry.coordinates} if geometry.coordinates is not None else {"distances": geometry.distances}
        temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(temporary, key=np.array(repr(key)), kind=np.array(geometry.kind), **arrays)
        os.replace(temporary, path)
