"""DomainConformance: the harness as a pytest test class a plugin subclasses with its domain name."""

from __future__ import annotations

import pytest

from sciformer.plugins import PluginHost
from sciformer.testing import checks


class DomainConformance:
    """Subclass with `domain = "<name>"`; pytest then runs every conformance check on that domain."""

    domain: str = ""

    @pytest.fixture(scope="class")
    @classmethod
    def subject(cls) -> checks.Subject:
        """The domain under test, built once per class from the installed plugins."""
        if not cls.domain:
            raise TypeError(f"{cls.__name__} must set the class attribute `domain`")
        return checks.make_subject(cls.domain, PluginHost())

    @pytest.mark.parametrize("check", list(checks.CHECKS))
    def test_conformance(self, subject: checks.Subject, check: str) -> None:
        """One named check of sciformer.testing.checks."""
        checks.CHECKS[check](subject)
