"""Small good and bad audio records for the plugin harness and the tests; made here, needing no files."""

from __future__ import annotations

import numpy as np
from sciformer.records import ExampleRecords, Record

from sciformer_audio.waveform import Waveform

#: A model small enough for the harness: 64 mel bins, 1 s of frames, two narrow blocks.
HARNESS_CONFIG = {"dim": 32, "depth": 2, "heads": 2, "task": "sequence-classification", "domain_options": {"max_length": 100, "num_mel_bins": 64}}


def example_records() -> ExampleRecords:
    """A tone (16 kHz), a stereo tone with noise (16 kHz), noise at 8 kHz; empty, short, clipped and non-audio records."""
    rng = np.random.default_rng(0)
    time = np.arange(16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * time)).astype(np.float32)
    stereo = np.stack((tone, 0.1 * rng.standard_normal(16000).astype(np.float32)), axis=1)
    return ExampleRecords(
        good=(
            Record("tone-16k", Waveform(tone, 16000), target="tone"),
            Record("stereo-16k", Waveform(stereo[:12000], 16000), target="tone"),
            Record("noise-8k", Waveform((0.1 * rng.standard_normal(4000)).astype(np.float32), 8000), target="noise"),
        ),
        bad=(
            Record("empty", Waveform(np.zeros(0, np.float32), 16000)),
            Record("too-short", Waveform(np.zeros(100, np.float32), 16000)),
            Record("clipped", Waveform(np.clip(10 * tone, -1, 1), 16000)),
            Record("not-audio", "hello"),
        ),
        config=HARNESS_CONFIG,
    )
