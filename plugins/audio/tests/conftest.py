"""Fixtures of the audio plugin's tests: a plugin host with the audio plugin and the shipped FSDD subset."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile
from sciformer.plugins import PluginHost

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """The built-ins plus the audio plugin only (other plugins may be half-built beside it)."""
    return PluginHost(only={"audio"})


@pytest.fixture(scope="session")
def fsdd_rows() -> list[dict[str, str]]:
    """Rows of the shipped subset's manifest (30 recordings, 8 kHz)."""
    with open(DATA / "fsdd_sample.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def fsdd_waveforms(fsdd_rows: list[dict[str, str]]) -> list[np.ndarray]:
    """A few real FSDD recordings as float32 in [-1, 1) at 8 kHz."""
    return [soundfile.read(DATA / row["file"], dtype="float32")[0] for row in fsdd_rows[::6]]
