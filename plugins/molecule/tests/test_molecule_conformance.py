"""The core's plugin harness, run on the molecule domain (its examples configure both attention biases)."""

from __future__ import annotations

from sciformer.testing import DomainConformance


class TestMoleculeConformance(DomainConformance):
    """Every conformance check of sciformer.testing on `molecule`."""

    domain = "molecule"
