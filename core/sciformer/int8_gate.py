"""The accuracy gate of INT8 inference (`--dtype int8`): a model's answers under dynamic INT8 compared with
float32 on real records, kept in its checkpoint, and a model that failed refuses INT8 with the figures.

The gate: the pooled output's cosine to float32 at least MIN_COSINE on every record; for classifiers the
same class for at least MIN_AGREEMENT of the records; for regression every value within MAX_SHIFT of the
float32 values' spread. `int8_measure.measure` runs it on a file (a shipped model's example: its held-out
records), `record` writes the figures into the checkpoint's `config.json` (`extra["int8_gate"]`), and `check` is
called wherever `--dtype int8` is asked for: a recorded failure is refused in one line; a model without
a recorded gate is not refused (nothing was measured).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciformer.checkpoint import CONFIG, CheckpointInfo
from sciformer.errors import ConfigError

GATE_KEY = "int8_gate"
MIN_COSINE = 0.999
MIN_AGREEMENT = 0.99
MAX_SHIFT = 0.02  # of the float32 values' spread (max - min)
CLASSIFICATION = ("sequence-classification", "token-classification")


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
