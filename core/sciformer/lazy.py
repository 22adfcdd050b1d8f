"""Objects named now and imported when first used, so that hooks stay light to call.

The host calls the discovery hooks (domains, readers, importers, models, commands) at every start,
`sciformer --help` included; a reader or importer given as `LazyFunction("pkg.module:function")`
leaves its module, and the libraries it needs (torch, h5py, RDKit, ...), unimported until it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def import_object(target: str) -> Any:
    """The object `package.module:name` names, importing its module."""
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"name an object as 'package.module:name', not {target!r}")
    return getattr(importlib.import_module(module), name)


class LazyFunction:
    """A stand-in for the function `package.module:name`, imported on the first call; pickles by name."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._function: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Import the function (once) and call it."""
        if self._function is None:
            self._function = import_object(self.target)
        return self._function(*args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {"target": self.target, "_function": None}

    def __repr__(self) -> str:
        return f"LazyFunction({self.target!r})"
