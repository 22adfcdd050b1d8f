"""The plugin host: a pluggy manager with the built-in plugins and those found through entry points.

A plugin that fails while being discovered is disabled (unregistered, reported once, listed with its
reason by `sciformer plugins`) and every other plugin keeps working. An exception a plugin raises in
any other hook call becomes a PluginError naming the plugin and the hook: one line for that run.
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from sciformer import hookspec
from sciformer.domain import Domain, RecordReader, ShippedModel, Tokenizer, WeightImporter
from sciformer.errors import PluginError, SciformerError

if TYPE_CHECKING:
    from sciformer.augmentation import Augmentation
    from sciformer.config import ModelConfig
    from sciformer.records import ExampleRecords, Record

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sciformer"
ONLY_ENV = "SCIFORMER_PLUGINS"  # comma-separated plugin names to load; empty loads no external plugin
BUILTIN_PLUGINS = ("sciformer.builtin.text",)
# Hooks that say what a plugin offers, with the words that report a failure of each: a plugin whose
# implementation raises is disabled rather than failing every command.
DISCOVERY_HOOKS = {
    "sciformer_domains": "domains",
    "sciformer_models": "models",
    "sciformer_readers": "readers",
    "sciformer_weight_importers": "weight importers",
    "sciformer_result_exporters": "result exporters",
    "sciformer_cli_commands": "commands",
}


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its name, the distribution it came from and its version."""

    name: str
    distribution: str
    version: str
    builtin: bool


class PluginHost:
    """Owns one pluggy PluginManager; every CLI invocation or API user makes its own (no globals)."""

    def __init__(self, *, entry_points: bool = True, only: set[str] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspec.PROJECT)
        self.pm.add_hookspecs(hookspec)
        self.pm.add_hookcall_monitoring(_before_call, _name_failing_plugin)
        self.info: dict[str, PluginInfo] = {}
        self.failures: dict[str, str] = {}
        for module_name in BUILTIN_PLUGINS:
            self.register(_import(module_name), name=module_name.rsplit(".", 1)[-1], builtin=True)
        if entry_points:
            self._load_entry_points(only if only is not None else _only_from_env())
        self._discover()

    def register(self, plugin: ModuleType | object, name: str, *, distribution: str = "sciformer", version: str | None = None, builtin: bool = False) -> None:
        """Register a plugin object under `name` and check its hook implementations against the specs."""
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as error:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            raise PluginError(f"plugin {name!r} does not match sciformer's hooks: {error}") from error
        self.info[name] = PluginInfo(name, distribution, version or _version(distribution), builtin)

    def unregister(self, name: str) -> None:
        """Remove a plugin by name (tests that register plugins inline clean up with this)."""
        self.pm.unregister(name=name)
        self.info.pop(name, None)

    def disable(self, name: str, reason: str) -> None:
        """Unregister a failing plugin, keep `reason` for `sciformer plugins` and warn once."""
        self.unregister(name)
        self.failures[name] = reason
        log.warning("plugin %r: %s; the plugin is disabled", name, reason)

    def collect(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Each plugin's answer to a discovery hook as (plugin name, answer), first registered first.

        A plugin whose implementation raises (SystemExit included) is disabled and left out."""
        answers = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                answers.append((impl.plugin_name, impl.function(*(kwargs[arg] for arg in impl.argnames))))
            except (Exception, SystemExit) as error:  # noqa: BLE001
                self.disable(impl.plugin_name, f"its {DISCOVERY_HOOKS[hook]} failed to load ({_one_line(error)})")
        return answers

    def _load_entry_points(self, only: set[str] | None) -> None:
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if only is not None and entry_point.name not in only:
                continue
            if entry_point.name in self.info:
                continue
            distribution = entry_point.dist.name if entry_point.dist else entry_point.value
            version = entry_point.dist.version if entry_point.dist else None
            try:
                plugin = entry_point.load()
                self.register(plugin, entry_point.name, distribution=distribution, version=version)
            except (Exception, SystemExit) as error:  # a plugin must not end the program; Ctrl-C still does  # noqa: BLE001
                self.disable(entry_point.name, _one_line(error))

    def _discover(self) -> None:
        """Call every discovery hook once, so that a plugin failing in one is disabled now, not mid-run."""
        for plugin, declared in self.collect("sciformer_domains"):
            try:
                for domain in declared or []:
                    domain.readers()
            except (Exception, SystemExit) as error:  # noqa: BLE001
                self.disable(plugin, f"its readers failed to load ({_one_line(error)})")
        self.domains()
        self.collect("sciformer_models")
        self.collect("sciformer_weight_importers")
        self.collect("sciformer_result_exporters")
        self.collect("sciformer_readers")

    # -- domains and components -------------------------------------------------------------------

    def domains(self) -> dict[str, OwnedDomain]:
        """Every declared domain by name; a plugin declaring a domain already declared is disabled.

        Each is handed out as an `OwnedDomain`: the plugin's object, whose methods name the plugin
        when they fail unexpectedly."""
        found: dict[str, OwnedDomain] = {}
        for plugin, declared in self.collect("sciformer_domains"):
            clash = next((domain.name for domain in declared or [] if domain.name in found), None)
            if clash is not None:
                self.disable(plugin, f"declares domain {clash!r}, already declared by plugin {found[clash].plugin!r}")
                continue
            for domain in declared or []:
                found[domain.name] = OwnedDomain(domain, plugin)
        return found

    def domain(self, name: str) -> OwnedDomain:
        """One domain, or a PluginError naming the installed ones."""
        domains = self.domains()
        if name not in domains:
            hint = f"; plugins that failed to load: {sorted(self.failures)}" if self.failures else ""
            raise PluginError(f"no installed plugin serves domain {name!r} (installed domains: {sorted(domains)}){hint}")
        return domains[name]

    def domain_plugin(self, name: str) -> PluginInfo:
        """The plugin that declares domain `name`."""
        return self.info[self.domain(name).plugin]

    def tokenizer(self, config: ModelConfig) -> Tokenizer:
        """The tokenizer for a model configuration."""
        return self.domain(config.domain).tokenizer(config)

    def examples(self, domain: str) -> ExampleRecords:
        """A domain's example records (for tests and the plugin harness)."""
        return self.domain(domain).examples()

    def prepare_config(self, config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
        """`config` completed from training records: the domain's learned settings, then class names
        of classification tasks when still empty."""
        from sciformer.targets import with_class_names

        return with_class_names(self.domain(config.domain).prepare_config(config, records), records)

    def augmentations(self, config: ModelConfig) -> list[Augmentation]:
        """The training-time augmentations a configuration's domain offers."""
        return self.domain(config.domain).augmentations(config)

    def readers(self, domain: str) -> list[RecordReader]:
        """All readers of a domain: its own first, then those other plugins add, first registered first."""
        own = self.domain(domain).readers()
        added = [reader for _, result in self.collect("sciformer_readers") for reader in result or [] if reader.domain == domain]
        return [*own, *added]

    def reader_for(self, domain: str, path: Path) -> RecordReader:
        """The reader for a file of a domain, chosen by suffix. A folder matches its own suffix first
        (a `.zarr` store is one input), then the suffix '/'."""
        own = "".join(path.suffixes[-1:]).lower()
        wanted = [own, "/"] if path.is_dir() and own else ["/"] if path.is_dir() else [own]
        readers = self.readers(domain)
        for suffix in wanted:
            for reader in readers:
                if suffix in reader.suffixes:
                    return reader
        suffix = wanted[-1]
        accepted = sorted({s for r in readers for s in r.suffixes})
        raise PluginError(f"no reader for {suffix or 'suffix-less'} files in domain {domain!r}: {path} (accepted: {accepted})")

    def importers(self) -> dict[str, WeightImporter]:
        """Weight importers by name (the first registered wins a name)."""
        found = [imp for _, result in self.collect("sciformer_weight_importers") for imp in result or []]
        return {imp.name: imp for imp in reversed(found)}

    def shipped_models(self) -> dict[str, ShippedModel]:
        """Shipped trained models by name (the first registered wins a name)."""
        found = [m for _, result in self.collect("sciformer_models") for m in result or []]
        return {m.name: m for m in reversed(found)}

    def describe(self) -> list[dict[str, Any]]:
        """Loaded plugins with version, domains and implemented hooks; failed ones with their cause."""
        rows = []
        for name, info in sorted(self.info.items()):
            plugin = self.pm.get_plugin(name)
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            domains = [d.name for d in (getattr(plugin, "sciformer_domains", list)() or [])]
            rows.append({"name": name, "distribution": info.distribution, "version": info.version, "builtin": info.builtin, "domains": domains, "hooks": hooks})
        rows.extend({"name": name, "error": reason} for name, reason in sorted(self.failures.items()))
        return rows


class OwnedDomain:
    """A plugin's `Domain` as the host hands it out: the same attributes and methods, where an unexpected
    exception from a method becomes a PluginError naming the plugin and the method (a SciformerError,
    already a clear message, stays as it is). `domain` is the plugin's own object."""

    def __init__(self, domain: Domain, plugin: str) -> None:
        self.domain, self.plugin = domain, plugin

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.domain, name)
        if name.startswith("_") or not callable(value):
            return value
        where = f"{type(self.domain).__name__}.{name}"

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return value(*args, **kwargs)
            except SciformerError:
                raise
            except Exception as error:
                raise PluginError(f"plugin {self.plugin!r} failed in {where}: {_one_line(error)}") from error

        return call


def _one_line(error: BaseException) -> str:
    """An exception as 'Type: message' on one line."""
    return " ".join(f"{type(error).__name__}: {error}".split())


def _before_call(hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
    """Nothing to do before a hook call (pluggy's monitoring takes a pair)."""


def _name_failing_plugin(outcome: pluggy.Result[Any], hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping) -> None:
    """Turn an unexpected exception from a plugin's hook into a PluginError naming the plugin and hook.

    A SciformerError is already a clear message and stays as it is; so does an exception raised by
    no implementation (a wrong hook call is sciformer's own bug, and keeps its traceback)."""
    error = outcome.exception
    if not isinstance(error, Exception) or isinstance(error, SciformerError):
        return
    owners = {getattr(impl.function, "__code__", None): impl.plugin_name for impl in impls}
    raisers = [owners[frame.f_code] for frame, _ in traceback.walk_tb(error.__traceback__) if frame.f_code in owners]
    if raisers:
        wrapped = PluginError(f"plugin {raisers[-1]!r} failed in {hook_name}: {_one_line(error)}")
        wrapped.__cause__ = error
        outcome.force_exception(wrapped)


def _only_from_env() -> set[str] | None:
    value = os.environ.get(ONLY_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _import(module_name: str) -> ModuleType:
    import importlib

    return importlib.import_module(module_name)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
