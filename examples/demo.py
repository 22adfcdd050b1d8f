"""The main job on shipped data: score each shipped model's example file into HDF5 and summarise it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import h5py
import numpy as np
from rich.console import Console
from rich.table import Table
from sciformer.checkpoint import read_checkpoint_info
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score


def main() -> None:
    """Score every shipped model's example input; print one row per model."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    console = Console(width=170)
    host = PluginHost()
    args.out.mkdir(parents=True, exist_ok=True)
    table = Table(title="sciformer demo: batch scoring of shipped examples with shipped models")
    for column in ("model", "domain", "input", "scored", "bad", "records/s", "output", "first results", "agreement with the file's labels or truth"):
        table.add_column(column)
    for model in sorted(host.shipped_models().values(), key=lambda m: m.name):
        if model.example is None:
            continue
        output = args.out / f"{model.name}.h5"
        summary = score(model.name, model.example, output, host, options=model.example_options, overwrite=True)
        agreement = _agreement(host, model, output)
        table.add_row(model.name, model.domain, model.example.name, str(summary.scored), str(summary.bad), f"{summary.records_per_second:,.1f}", str(output), _first_results(output), agreement)
    console.print(table)


def _first_results(path: Path, count: int = 3) -> str:
    """A few results: class names, values, per-token classes, forecast means, or embedding norms."""
    with h5py.File(path) as results:
        if "prediction" in results:
            values = results["prediction"][:count]
            labels = list(results["prediction"].attrs.get("labels", []))
            if labels and values.dtype.kind == "i":
                return ", ".join(labels[v] if v >= 0 else "bad" for v in values)
            return ", ".join(f"{v:.3g}" for v in np.ravel(values))
        if "token_predictions" in results:
            labels = list(results["token_predictions"].attrs.get("labels", []))
            first = results["token_predictions"][0][:24]
            return "".join(labels[v] for v in first) + "..." if labels else str(first)
        if "forecast" in results:
            forecasts = results["forecast"][:count]
            return "forecast means " + ", ".join(f"{v:.1f}" for v in forecasts.reshape(len(forecasts), -1).mean(axis=1))
        norms = np.linalg.norm(results["embedding"][:count], axis=1)
        return "embedding norms " + ", ".join(f"{n:.2f}" for n in norms)


def _agreement(host: PluginHost, model, path: Path) -> str:
    """Accuracy of class predictions against the example file's own labels, where it has them."""
    info = read_checkpoint_info(model.path)
    options = {**info.extra.get("reader_options", {}), **model.example_options}
    if info.config.task == "forecast":
        return _forecast_skill(path)
    if info.config.task != "sequence-classification":
        return ""
    truth = [r.target for r in read_records(host, info.config.domain, model.example, options)]
    if any(t is None for t in truth):
        return ""
    with h5py.File(path) as results:
        labels = list(results["prediction"].attrs.get("labels", []))
        predicted = [labels[v] if v >= 0 else None for v in results["prediction"][:]]
    right = sum(str(p) == str(t) for p, t in zip(predicted, truth))
    return f"accuracy {right / len(truth):.2f} ({right}/{len(truth)})"


def _forecast_skill(path: Path) -> str:
    """RMSE of field forecasts against persistence at each lead, or the MSE of series forecasts against the
    naive baselines, where the file held the truth."""
    with h5py.File(path) as results:
        if "skill" not in results:
            return ""
        skill = results["skill"]
        if "mse_model" in skill:  # series: MSE per channel over the horizon
            named = {"persistence": "persistence", "seasonal": "seasonal naive", "ets": "ETS"}
            others = ", ".join(f"{label} {float(skill[f'mse_{name}'][0]):.4g}" for name, label in named.items() if f"mse_{name}" in skill)
            return f"MSE {float(skill['mse_model'][0]):.4g} ({others})"
        attributes = skill["rmse_model"].attrs
        leads = [f"+{h:g} h" for h in attributes["lead_hours"]] if "lead_hours" in attributes else [f"+{s} steps" for s in attributes["leads"]]
        model, persistence = skill["rmse_model"][:, 0], skill["rmse_persistence"][:, 0]
    return "; ".join(f"RMSE {lead} {m:.2f} (persistence {p:.2f})" for lead, m, p in zip(leads, model, persistence))


if __name__ == "__main__":
    main()
