"""Measuring the INT8 accuracy gate (`int8_gate`) of a checkpoint: float32 and dynamic INT8 answers on the
records of a file, compared record by record. `examples/int8_gates.py` and `make models` keep the figures in
each shipped checkpoint (`int8_gate.record`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciformer.api import Model, load
from sciformer.checkpoint import read_checkpoint_info
from sciformer.errors import ConfigError
from sciformer.int8_gate import CLASSIFICATION, MAX_SHIFT, MIN_AGREEMENT, MIN_COSINE
from sciformer.plugins import PluginHost
from sciformer.quantization import quantize_for_inference


def measure(model_dir: Path, records: Path, host: PluginHost, options: Mapping[str, Any]) -> dict[str, Any]:
    """The gate's figures for a checkpoint on the records of a file: `cosine_min`, `agreement` (classifiers)
    or `value_shift` (regression, as a share of the spread), `records`, `input` and `passed`."""
    float32 = load(model_dir, host=host, options=options)
    reference = float32.predict(Path(records), embeddings=True)
    quantized = Model(quantize_for_inference(copy.deepcopy(float32.net)), host, Path(model_dir), device="cpu", dtype="int8",
                      batch_tokens=float32.batch_tokens, options=options)  # not `load`: it refuses a model that failed before
    int8 = quantized.predict(Path(records), embeddings=True)
    scored = [(p, q) for p, q in zip(reference, int8) if p.status == 0 and q.status == 0]
    if not scored:
        raise ConfigError(f"{records}: no record scored in both float32 and int8 to measure the INT8 gate on")
    a, b = (np.stack([pair[side].embedding for pair in scored]).astype(np.float64) for side in (0, 1))
    figures: dict[str, Any] = {"input": Path(records).name, "records": len(scored)}
    figures["cosine_min"] = round(float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min()), 6)
    passed = figures["cosine_min"] >= MIN_COSINE
    task = read_checkpoint_info(model_dir).config.task
    if task in CLASSIFICATION:
        figures["agreement"] = round(float(np.mean([np.array_equal(p.prediction, q.prediction) for p, q in scored])), 6)
        passed = passed and figures["agreement"] >= MIN_AGREEMENT
    elif task == "sequence-regression":
        values, quantized = (np.array([pair[side].prediction for pair in scored], dtype=np.float64) for side in (0, 1))
        spread = float(values.max() - values.min()) or 1.0
        figures["value_shift"] = round(float(np.abs(values - quantized).max()) / spread, 6)
        passed = passed and figures["value_shift"] <= MAX_SHIFT
    figures["passed"] = bool(passed)
    return figures
