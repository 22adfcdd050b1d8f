"""Documentation generated from code stays in step with it."""

from __future__ import annotations

import re
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


def test_architecture_page_names_modules_that_exist() -> None:
    """Every module docs/architecture.md names is a file of the core (paths from core/sciformer/)."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"[\w/]+\.py", page))
    assert len(named) > 20
    missing = sorted(name for name in named if not (ROOT / "core" / "sciformer" / name).is_file())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"
