"""sciformer: one transformer engine for science, extended by domain plugins through pluggy hooks.

`sciformer.load(NAME).predict(inputs)` scores records in memory (sciformer.api); it is imported on
first use, so `import sciformer` stays light (no torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from sciformer.api import load

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("sciformer")
"""Marker for plugin hook implementations: `@sciformer.hookimpl`."""

__all__ = ["__version__", "hookimpl", "load"]


def __getattr__(name: str) -> Any:
    """`sciformer.load`, imported when first asked for."""
    if name == "load":
        from sciformer.api import load

        return load
    raise AttributeError(f"module 'sciformer' has no attribute {name!r}")
