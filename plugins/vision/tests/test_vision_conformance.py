"""The shared plugin harness run against the vision domain."""

from sciformer.testing import DomainConformance


class TestVisionConformance(DomainConformance):
    """Every sciformer conformance check on the `vision` domain."""

    domain = "vision"
