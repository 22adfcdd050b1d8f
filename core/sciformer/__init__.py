"""sciformer: one transformer engine for science, extended by domain plugins through pluggy hooks."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("sciformer")
"""Marker for plugin hook implementations: `@sciformer.hookimpl`."""

__all__ = ["__version__", "hookimpl"]
