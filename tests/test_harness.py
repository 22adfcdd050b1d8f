"""The plugin harness runs on every plugin listed in registry.yaml (driven by the registry)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from sciformer.plugins import PluginHost
from sciformer.registry import load_registry
from sciformer.testing import checks

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = [domain for entry in load_registry(ROOT / "registry.yaml") for domain in entry.domains]


@functools.cache
def subject_of(domain: str) -> checks.Subject:
    """One harness subject per catalogued domain, built once per test process."""
    return checks.make_subject(domain, PluginHost())


@pytest.mark.parametrize("check", list(checks.CHECKS))
@pytest.mark.parametrize("domain", DOMAINS)
def test_registry_plugins_pass_the_harness(domain: str, check: str) -> None:
    checks.CHECKS[check](subject_of(domain))


def test_harness_catches_a_broken_tokenizer(monkeypatch) -> None:
    """The harness is not vacuous: a tokenizer that ignores padding fails the batch check."""
    host = PluginHost(entry_points=False)
    subject = checks.make_subject("text", host)
    from sciformer.builtin.text.vocabulary import WordTokenizer

    original = WordTokenizer.collate

    def leaky(self, encoded, record_ids):
        batch = original(self, encoded, record_ids)
        batch.padding_mask[:] = True  # pretend padding is real
        return batch

    monkeypatch.setattr(WordTokenizer, "collate", leaky)
    with pytest.raises(AssertionError, match="changes inside a batch"):
        checks.check_alone_equals_batch(subject)


def test_run_all_reports_every_check() -> None:
    report = checks.run_all("text", PluginHost(entry_points=False))
    assert report == {name: "ok" for name in checks.CHECKS}
