"""The plugin test harness: conformance checks any domain plugin runs against itself.

In a plugin's tests::

    from sciformer.testing import DomainConformance

    class TestConformance(DomainConformance):
        domain = "protein"

Every check also runs without pytest: `sciformer.testing.checks.run_all(domain)`.
"""

from sciformer.testing.suite import DomainConformance

__all__ = ["DomainConformance"]
