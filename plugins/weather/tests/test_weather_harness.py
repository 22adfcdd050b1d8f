"""The shared plugin conformance harness, run on the weather domain."""

from __future__ import annotations

from sciformer.testing import DomainConformance


class TestWeatherConformance(DomainConformance):
    """Every conformance check of sciformer.testing on `weather`."""

    domain = "weather"
