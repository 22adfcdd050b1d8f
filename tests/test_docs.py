"""Documentation generated from code stays in step with it."""

from __future__ import annotations

import re
from pathlib import Path

from sciformer import hookspec
from sciformer.apidoc import TYPES, api_reference, config_fields
from sciformer.hookdoc import hook_reference

ROOT = Path(__file__).resolve().parents[1]


def test_hook_reference_is_generated_from_the_specs() -> None:
    committed = (ROOT / "docs" / "hooks.md").read_text()
    assert committed == hook_reference(), "run: sciformer hooks --markdown > docs/hooks.md"
    for name in dir(hookspec):
        if name.startswith("sciformer_"):
            assert f"## `{name}(" in committed
            assert getattr(hookspec, name).__doc__.strip(), f"hook {name} has no docstring"


def test_api_reference_is_generated_from_the_types() -> None:
    """docs/api.md equals what `sciformer hooks --api` prints; every ModelConfig field and listed type is in it, described."""
    committed = (ROOT / "docs" / "api.md").read_text()
    assert committed == api_reference(), "run: sciformer hooks --api > docs/api.md"
    fields = config_fields()
    assert [name for name, *_ in fields][:3] == ["domain", "dim", "depth"]
    assert not [name for name, _, _, meaning in fields if not meaning], "every ModelConfig field needs a comment on its line"
    for module, names in TYPES:
        for name in names:
            assert f"## `{module}.{name}`" in committed
    assert "(no docstring)" not in committed
    assert "(api.md)" in (ROOT / "docs" / "writing-a-plugin.md").read_text()
    assert "(docs/api.md)" in (ROOT / "README.md").read_text()


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
