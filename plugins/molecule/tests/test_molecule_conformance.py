"""The core's plugin harness, run on the molecule domain (its examples configure both attention biases)."""

from __future__ import annotations

from sciformer.testing import DomainConformance


class TestMoleculeConformance(DomainConformance):
    """Every conformance check of sciformer.testing on `molecule`."""

    domain = "molecule"
    # MAT's own norm and one-layer feed-forward (as imported MATs use), with the Gaussian distance bias alone
    configurations = ({"norm_layer": "mat", "mlp_layer": "mat", "domain_options": {"attention_bias": ["gaussian"]}},)
