"""The core's plugin harness, run on the audio domain."""

from __future__ import annotations

from sciformer.testing import DomainConformance


class TestAudioConformance(DomainConformance):
    """Every conformance check of sciformer.testing on the audio domain's examples."""

    domain = "audio"
