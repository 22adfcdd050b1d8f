"""DomainConformance: the harness as a pytest test class a plugin subclasses with its domain name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from sciformer.plugins import PluginHost
from sciformer.testing import checks


class DomainConformance:
    """Subclass with `domain = "<name>"`; pytest then runs every conformance check on that domain.

    `configurations` adds model settings to check besides the examples' own (each merged over them,
    `domain_options` key by key), e.g. `[{"task": "sequence-classification", "num_labels": 2}]`.
    """

    domain: str = ""
    configurations: ClassVar[Sequence[Mapping[str, Any]]] = ()

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run every check once per configuration: the examples' own, then each of `configurations`."""
        if "subject" in metafunc.fixturenames:
            settings = [{}, *self.configurations]
            names = ["examples", *(f"configuration-{i}" for i in range(1, len(settings)))]
            metafunc.parametrize("subject", settings, indirect=True, scope="class", ids=names)

    @pytest.fixture(scope="class")
    @classmethod
    def subject(cls, request: pytest.FixtureRequest) -> checks.Subject:
        """The domain under test with one configuration, built once per class from the installed plugins."""
        if not cls.domain:
            raise TypeError(f"{cls.__name__} must set the class attribute `domain`")
        return checks.make_subject(cls.domain, PluginHost(), request.param)

    @pytest.mark.parametrize("check", list(checks.CHECKS))
    def test_conformance(self, subject: checks.Subject, check: str) -> None:
        """One named check of sciformer.testing.checks."""
        checks.CHECKS[check](subject)
