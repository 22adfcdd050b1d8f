"""Plugin discovery: built-ins, entry points, SCIFORMER_PLUGINS, failing plugins disabled, hook validation."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import sciformer
from sciformer.build import build_model
from sciformer.builtin.text import TextDomain
from sciformer.config import ModelConfig
from sciformer.errors import ConfigError, PluginError
from sciformer.plugins import PluginHost


@pytest.fixture
def fake_distributions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two installed distributions on sys.path: a working plugin and one that fails to import."""
    (tmp_path / "good_domain_plugin.py").write_text(textwrap.dedent('''
        import sciformer
        from sciformer.builtin.text import TextDomain

        class GoodDomain(TextDomain):
            name = "good"

        @sciformer.hookimpl
        def sciformer_domains():
            return [GoodDomain()]
    '''))
    (tmp_path / "broken_domain_plugin.py").write_text("raise ImportError('needs a library that is not installed')\n")
    for name in ("good", "broken"):
        info = tmp_path / f"sciformer_{name}_test-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: sciformer-{name}-test\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[sciformer]\n{name} = {name}_domain_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in ("good_domain_plugin", "broken_domain_plugin"):
        sys.modules.pop(module, None)


def test_entry_points_load_and_a_broken_plugin_is_reported(fake_distributions, monkeypatch) -> None:
    monkeypatch.delenv("SCIFORMER_PLUGINS", raising=False)
    host = PluginHost()
    assert "good" in host.domains() and "text" in host.domains()
    assert host.info["good"].version == "1.0" and host.info["good"].distribution == "sciformer-good-test"
    assert "needs a library that is not installed" in host.failures["broken"]
    rows = {row["name"]: row for row in host.describe()}
    assert rows["broken"]["error"].startswith("ImportError")
    assert rows["good"]["domains"] == ["good"]


def test_environment_variable_restricts_plugins(fake_distributions, monkeypatch) -> None:
    monkeypatch.setenv("SCIFORMER_PLUGINS", "good")
    host = PluginHost()
    assert "good" in host.info and "broken" not in host.failures
    monkeypatch.setenv("SCIFORMER_PLUGINS", "")
    host = PluginHost()
    assert set(host.info) == {"text"}, "empty SCIFORMER_PLUGINS loads only the built-ins"


def test_unknown_domain_names_installed_ones(host) -> None:
    with pytest.raises(PluginError, match=r"no installed plugin serves domain 'dna' \(installed domains: \['text'\]\)"):
        host.domain("dna")


def test_hook_with_wrong_signature_is_rejected(host) -> None:
    class Wrong:
        @sciformer.hookimpl
        def sciformer_attention_biases(self, config, unexpected_argument):
            return None

    with pytest.raises(PluginError, match="(?s)wrong.*unexpected_argument"):
        host.register(Wrong(), "wrong")
    assert "wrong" not in host.info


def test_misspelt_hook_is_rejected(host) -> None:
    class Misspelt:
        @sciformer.hookimpl
        def sciformer_attention_bias(self, config):
            return None

    with pytest.raises(PluginError, match="misspelt"):
        host.register(Misspelt(), "misspelt")


def test_a_second_plugin_declaring_a_domain_is_disabled(host, caplog) -> None:
    class Again(TextDomain):
        summary = "again"

    class Duplicate:
        @sciformer.hookimpl
        def sciformer_domains(self):
            return [Again()]

    host.register(Duplicate(), "duplicate")
    assert host.domains()["text"].summary != "again", "the first plugin to declare a domain keeps it"
    assert host.failures["duplicate"] == "declares domain 'text', already declared by plugin 'text'"
    assert "duplicate" not in host.info and not host.pm.has_plugin("duplicate")
    host.domains()
    assert caplog.text.count("plugin 'duplicate'") == 1, "reported once"


@pytest.mark.parametrize("failure", [RuntimeError("no table"), SystemExit(3)])
def test_a_plugin_failing_in_a_discovery_hook_is_disabled(host, failure) -> None:
    class Failing:
        @sciformer.hookimpl
        def sciformer_models(self):
            raise failure

    host.register(Failing(), "failing")
    assert "text-who-ordered" in host.shipped_models()
    assert host.failures["failing"] == f"its models failed to load ({type(failure).__name__}: {failure})"
    assert [row["name"] for row in host.describe()] == ["text", "failing"]


@pytest.mark.parametrize(
    "raised, expected, message",
    [
        (KeyError("bias_options"), PluginError, "plugin 'failing' failed in sciformer_attention_biases: KeyError: 'bias_options'"),
        (ConfigError("unknown pooling 'max'"), ConfigError, "unknown pooling 'max'"),  # a plugin's own clear error stays as it is
    ],
)
def test_an_error_while_a_model_is_built_names_the_plugin(host, text_config, raised, expected, message) -> None:
    class Failing:
        @sciformer.hookimpl
        def sciformer_attention_biases(self, config):
            raise raised

    host.register(Failing(), "failing")
    with pytest.raises(expected) as caught:
        build_model(text_config, host)
    assert str(caught.value) == message
    assert "failing" in host.info, "a run's error does not disable the plugin"


def test_a_failing_domain_method_names_the_plugin_and_the_method(host) -> None:
    class BrokenHeads(TextDomain):
        name = "broken-heads"

        def head(self, config, embedder):
            raise KeyError("head_options")

    class Plugin:
        @sciformer.hookimpl
        def sciformer_domains(self):
            return [BrokenHeads()]

    host.register(Plugin(), "broken")
    with pytest.raises(PluginError) as caught:
        build_model(ModelConfig(domain="broken-heads", dim=16, heads=2, depth=1, task="mlm", domain_options={"vocab": ["a"]}), host)
    assert str(caught.value) == "plugin 'broken' failed in BrokenHeads.head: KeyError: 'head_options'"
    assert host.domain("broken-heads").domain.__class__ is BrokenHeads and host.domain_plugin("broken-heads").name == "broken"
