"""The shared plugin harness run against the vision domain."""

from sciformer.testing import DomainConformance


class TestVisionConformance(DomainConformance):
    """Every sciformer conformance check on the `vision` domain."""

    domain = "vision"
    # timm's inner norms (q-k, attention output, MLP hidden), as imported timm ViTs may have them
    configurations = ({"qk_norm": True, "attention_norm": True, "mlp_norm": True},)
