"""The main job on shipped data: score each shipped model's example file into HDF5 and summarise it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import h5py
import numpy as np
from rich.console import Console
from rich.table import Table

from sciformer.plugins import PluginHost
from sciformer.scoring import score


def main() -> None:
    """Score every shipped model's example input; print one row per model."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    console = Console(width=150)
    host = PluginHost()
    args.out.mkdir(parents=True, exist_ok=True)
    table = Table(title="sciformer demo: batch scoring of shipped examples with shipped models")
    for column in ("model", "domain", "input", "scored", "bad", "records/s", "output", "first predictions"):
        table.add_column(column)
    for model in sorted(host.shipped_models().values(), key=lambda m: m.name):
        if model.example is None:
            continue
        output = args.out / f"{model.name}.h5"
        summary = score(model.name, model.example, output, host, options=model.example_options, overwrite=True)
        table.add_row(model.name, model.domain, model.example.name, str(summary.scored), str(summary.bad), f"{summary.records_per_second:,.1f}", str(output), _first_predictions(output))
    console.print(table)


def _first_predictions(path: Path, count: int = 3) -> str:
    """A few predictions (class names where the model has them) or embedding norms."""
    with h5py.File(path) as results:
        if "prediction" in results:
            values = results["prediction"][:count]
            labels = list(results["prediction"].attrs.get("labels", []))
            if labels and values.dtype.kind == "i":
                return ", ".join(labels[v] if v >= 0 else "bad" for v in values)
            return ", ".join(f"{v:.3g}" for v in np.ravel(values))
        norms = np.linalg.norm(results["embedding"][:count], axis=1)
        return "embedding norms " + ", ".join(f"{n:.2f}" for n in norms)


if __name__ == "__main__":
    main()
