"""The shared plugin harness, run on the protein domain (its examples include a windowed sequence)."""

from __future__ import annotations

from sciformer.testing import DomainConformance


class TestProteinConformance(DomainConformance):
    """Every conformance check of sciformer.testing on `protein`."""

    domain = "protein"
    # RMSNorm and q-k norms with rotary positions, windows included
    configurations = ({"norm_layer": "rmsnorm", "qk_norm": True},)
