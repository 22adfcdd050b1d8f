"""Measure the INT8 accuracy gate of every shipped model on its example records and keep the figures in its
checkpoint (`sciformer.int8_gate`): a model that fails then refuses `--dtype int8` with them.

    .venv/bin/python examples/int8_gates.py [NAME ...]

`examples/train_models.py` measures each model it retrains the same way.
"""

from __future__ import annotations

import json
import logging
import sys

from sciformer import int8_gate, int8_measure
from sciformer.plugins import PluginHost


def main() -> None:
    """Measure and record the gate of each shipped model named (default: all with an example); print the figures."""
    logging.basicConfig(level=logging.WARNING)
    host = PluginHost()
    wanted = set(sys.argv[1:])
    for name, shipped in sorted(host.shipped_models().items()):
        if (wanted and name not in wanted) or shipped.example is None:
            continue
        figures = int8_measure.measure(shipped.path, shipped.example, host, gate_options(shipped.example_options))
        int8_gate.record(shipped.path, figures)
        print(f"{name}: {json.dumps(figures)}")


def gate_options(options: dict) -> dict:
    """The example's reader options without its target column (the gate compares the model with itself)."""
    return {key: value for key, value in options.items() if key != "target_column"}


if __name__ == "__main__":
    main()
