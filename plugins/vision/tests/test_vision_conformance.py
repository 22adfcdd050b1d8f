"""The shared plugin harness run against the vision domain."""

from sciformer.testing import DomainConformance

#: A small Swin: two stages (widths 32 and 64) of two blocks, 2x2 windows (the harness images give
#: 7x7, 2x2 and 5x4 patch grids: padded windows, shifted windows and odd grids to merge).
SWIN = {
    "depth": 4,
    "stage_depths": [2, 2],
    "stage_heads": [2, 4],
    "position": "none",
    "pooling": "mean",
    "domain_options": {"window_size": 2},
}


class TestVisionConformance(DomainConformance):
    """Every sciformer conformance check on the `vision` domain."""

    domain = "vision"
    # timm's inner norms (q-k, attention output, MLP hidden), as imported timm ViTs may have them; a Swin
    configurations = ({"qk_norm": True, "attention_norm": True, "mlp_norm": True}, SWIN)
