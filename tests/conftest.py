"""Shared fixtures of the core tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sciformer
import yaml
from sciformer.config import ModelConfig
from sciformer.domain import Domain
from sciformer.plugins import PluginHost

WORDS = ["<start>", "the", "man", "chicken", "ordered", "woman", "beef"]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Callable[[object, str], list[int]]:
    """`spy(module, name)` counts the calls of `module.name` (still calling it); returns the call list."""

    def install(module: object, name: str) -> list[int]:
        calls: list[int] = []
        original: Callable = getattr(module, name)

        def counted(*args, **kwargs):
            calls.append(1)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
        return calls

    return install


@pytest.fixture
def host() -> PluginHost:
    """A host with only the built-in plugins (tests of the core do not depend on installed plugins)."""
    return PluginHost(entry_points=False)


class DomainPlugin:
    """A plugin contributing the domain `make()` builds, for a test that defines its own domain."""

    def __init__(self, make: Callable[[], Domain]) -> None:
        self.make = make

    @sciformer.hookimpl
    def sciformer_domains(self) -> list[Domain]:
        """The one domain."""
        return [self.make()]


@pytest.fixture
def register_domain(host: PluginHost) -> Iterator[Callable[[str, Callable[[], Domain]], PluginHost]]:
    """`register_domain(name, make)`: `host` with a plugin `name` contributing the domain `make()` builds (unregistered
    after the test)."""
    names: list[str] = []

    def register(name: str, make: Callable[[], Domain]) -> PluginHost:
        host.register(DomainPlugin(make), name)
        names.append(name)
        return host

    yield register
    for name in names:
        host.unregister(name)


@pytest.fixture
def text_config() -> ModelConfig:
    """A small text model configuration."""
    return ModelConfig(domain="text", dim=32, depth=2, heads=4, max_positions=32, domain_options={"vocab": WORDS})


TEXT_PLUGIN = Path(__file__).resolve().parents[1] / "core/sciformer/builtin/text"


@pytest.fixture
def write_recipe() -> Callable[..., Path]:
    """Writes the who-ordered recipe into a folder, with some sections updated; returns its path."""

    def write(folder: Path, **sections: dict) -> Path:
        recipe = yaml.safe_load((TEXT_PLUGIN / "recipes/who-ordered.yaml").read_text())
        orders = str(TEXT_PLUGIN / "data/orders.txt")
        recipe["data"] = {"train": orders, "valid": orders}
        recipe["output"] = str(folder / "run")
        for name, values in sections.items():
            recipe[name] = {**recipe.get(name, {}), **values}
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe))
        return path

    return write
