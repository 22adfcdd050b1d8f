"""The accuracy gate of INT8 inference (`--dtype int8`): a model's answers under dynamic INT8 compared with
float32 on real records, kept in its checkpoint, and a model that failed refuses INT8 with the figures.

The gate: the pooled output's cosine to float32 at least MIN_COSINE on every record; for classifiers the
same class for at least MIN_AGREEMENT of the records; for regression every value within MAX_SHIFT of the
float32 values' spread. `measure` runs it on a file (a shipped model's example: its held-out records),
`record` writes the figures into the checkpoint's `config.json` (`extra["int8_gate"]`), and `check` is
called wherever `--dtype int8` is asked for: a recorded failure is refused in one line; a model without
a recorded gate is not refused (nothing was measured).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciformer.checkpoint import CONFIG, CheckpointInfo, read_checkpoint_info
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost

GATE_KEY = "int8_gate"
MIN_COSINE = 0.999
MIN_AGREEMENT = 0.99
MAX_SHIFT = 0.02  # of the float32 values' spread (max - min)
CLASSIFICATION = ("sequence-classification", "token-classification")


def measure(model_dir: Path, records: Path, host: PluginHost, options: Mapping[str, Any]) -> dict[str, Any]:
    """The gate's figures for a checkpoint on the records of a file: `cosine_min`, `agreement` (classifiers)
    or `value_shift` (regression, as a share of the spread), `records`, `input` and `passed`."""
    from sciformer.api import Model, load
    from sciformer.quantization import quantize_for_inference

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


def record(model_dir: Path, figures: Mapping[str, Any]) -> None:
    """Keep the gate's figures in the checkpoint's config.json (`extra["int8_gate"]`); the weights are untouched."""
    path = Path(model_dir) / CONFIG
    meta = json.loads(path.read_text())
    meta.setdefault("extra", {})[GATE_KEY] = dict(figures)
    path.write_text(json.dumps(meta, indent=2) + "\n")


def check(info: CheckpointInfo) -> None:
    """ConfigError when the checkpoint records a failed INT8 gate, naming the figures."""
    gate = info.extra.get(GATE_KEY)
    if not gate or gate.get("passed", True):
        return
    failed = [f"pooled-output cosine {gate['cosine_min']} (gate {MIN_COSINE})"] if gate.get("cosine_min", 1.0) < MIN_COSINE else []
    if gate.get("agreement", 1.0) < MIN_AGREEMENT:
        failed.append(f"class agreement {gate['agreement']} (gate {MIN_AGREEMENT})")
    if gate.get("value_shift", 0.0) > MAX_SHIFT:
        failed.append(f"value shift {gate['value_shift']} of the spread (gate {MAX_SHIFT})")
    raise ConfigError(
        f"--dtype int8 is refused for {info.path.name}: on {gate.get('records')} records of {gate.get('input')} INT8 gave "
        f"{'; '.join(failed)}; use float32 or bfloat16"
    )
