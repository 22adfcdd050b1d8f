"""The hook reference, generated from the hook specifications and the `Domain` class so that it cannot drift from them."""

from __future__ import annotations

import inspect

from sciformer import hookspec
from sciformer.domain import Domain

HEADER = """# Hook reference

Generated from `core/sciformer/hookspec.py` and `core/sciformer/domain.py` by `sciformer hooks --markdown`;
do not edit by hand. Implement a hook with `@sciformer.hookimpl` on a module-level function (or a method)
of your plugin; a domain is a subclass of `sciformer.domain.Domain` that `sciformer_domains` returns.
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
    return "\n".join([parts[0], *body, domain_reference()])


def domain_reference() -> str:
    """Markdown with the `Domain` class: its description and each method, required or with a default."""
    parts = [f"## The `Domain` object\n\n{inspect.cleandoc(Domain.__doc__ or '')}\n"]
    for name, function in Domain.__dict__.items():
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        kind = "required" if getattr(function, "__isabstractmethod__", False) else "optional"
        signature = str(inspect.signature(function)).replace("(self, ", "(").replace("(self)", "()")
        parts.append(f"### `Domain.{name}{signature}`\n\n*{kind}*\n\n{inspect.cleandoc(function.__doc__ or '')}\n")
    return "\n".join(parts)
