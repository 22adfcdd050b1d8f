"""The shared plugin conformance harness, run on the timeseries domain."""

from __future__ import annotations

from typing import Any, ClassVar

from sciformer.testing import DomainConformance


class TestTimeSeriesConformance(DomainConformance):
    """Every conformance check of sciformer.testing on `timeseries`: the examples' PatchTST (BatchNorm, sin-cos
    positions, std scaling, flatten head), a LayerNorm post-norm one, and one with the other embedding and head options."""

    domain = "timeseries"
    configurations: ClassVar[list[dict[str, Any]]] = [
        {"norm_layer": "layernorm", "norm": "post"},
        {
            "position": "learned",
            "domain_options": {
                "scaling": "mean",
                "cls_token": True,
                "head_pooling": "cls",
                "share_embedding": False,
                "share_projection": False,
            },
        },
    ]
