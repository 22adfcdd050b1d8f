"""The hook reference, generated from the hook specifications so that it cannot drift from them."""

from __future__ import annotations

import inspect

from sciformer import hookspec

HEADER = """# Hook reference

Generated from `core/sciformer/hookspec.py` by `sciformer hooks --markdown`; do not edit by hand.
Implement a hook with `@sciformer.hookimpl` on a module-level function (or a method) of your plugin.
"""


def hook_reference() -> str:
    """Markdown with every hook's signature, whether its first result wins, and its docstring."""
    source = inspect.getsource(hookspec)
    parts = [HEADER]
    for name, function in inspect.getmembers(hookspec, inspect.isfunction):
        if not name.startswith("sciformer_"):
            continue
        options = getattr(function, "sciformer_spec", {})
        calling = "first result wins" if options.get("firstresult") else "all results are collected"
        signature = str(inspect.signature(function))
        parts.append(f"## `{name}{signature}`\n\n*{calling}*\n\n{inspect.cleandoc(function.__doc__ or '')}\n")
    order = {name: source.index(f"def {name}(") for name, _ in inspect.getmembers(hookspec, inspect.isfunction) if name.startswith("sciformer_")}
    body = sorted(parts[1:], key=lambda text: order[text.split("`")[1].split("(")[0]])
    return "\n".join([parts[0], *body])
