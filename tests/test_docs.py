"""Documentation generated from code stays in step with it."""

from __future__ import annotations

from pathlib import Path

from sciformer import hookspec
from sciformer.hookdoc import hook_reference

ROOT = Path(__file__).resolve().parents[1]


def test_hook_reference_is_generated_from_the_specs() -> None:
    committed = (ROOT / "docs" / "hooks.md").read_text()
    assert committed == hook_reference(), "run: sciformer hooks --markdown > docs/hooks.md"
    for name in dir(hookspec):
        if name.startswith("sciformer_"):
            assert f"## `{name}(" in committed
            assert getattr(hookspec, name).__doc__.strip(), f"hook {name} has no docstring"


def test_readme_lists_every_hook_and_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in dir(hookspec):
        if name.startswith("sciformer_"):
            assert f"`{name}(" in readme, f"README's hook table misses {name}"
    for command in ("make demo", "make test", "sciformer plugins", "sciformer registry", "sciformer train", "sciformer score", "sciformer import", "sciformer models", "sciformer attention", "sciformer new-plugin", "sciformer hooks", "sciformer plot", "sciformer contrastive"):
        assert command in readme, f"README misses {command}"
