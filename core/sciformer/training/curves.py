"""Loss and metric curves from metrics.jsonl files, drawn to one PNG (one panel per quantity)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciformer.errors import InputFileError
from sciformer.training.metrics import LABELS, RECALL, read_metrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SKIPPED = ("steps", "micro_batches")  # counters in epoch rows, not curves
PANEL_WIDTH = 4.5  # inches per panel
PANEL_HEIGHT = 3.2
LOG_SPAN = 20.0  # a panel whose positive values span more than this factor gets a log scale
Y_LABELS = {  # the y-axis of each known quantity; others show their field name
    "loss": "loss (training objective)",
    "accuracy": "accuracy (fraction correct)",
    "zero_shot_accuracy": "zero-shot accuracy (fraction)",
    "mse": "MSE (target units squared)",
    "rmse": "RMSE (target units)",
    "mae": "MAE (target units)",
    "lr": "learning rate",
    "grad_norm": "gradient norm (L2, before clipping)",
}


def curve_panels(runs: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> dict[str, list[tuple[str, list[int], list[float]]]]:
    """{quantity: [(label, steps, values)]}: the loss panel gathers every split's loss, each other
    numeric field (accuracy, rmse, lr, grad_norm) gets its own panel; labels are `run split`."""
    panels: dict[str, list[tuple[str, list[int], list[float]]]] = {}
    for name, rows in runs:
        series: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        for row in rows:
            split = str(row.get("split", "?"))
            for field, value in row.items():
                if field in LABELS or field in SKIPPED or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                steps, values = series.setdefault((field, split), ([], []))
                steps.append(int(row.get("step", len(steps))))
                values.append(float(value))
        for (field, split), (steps, values) in series.items():
            label = f"{name} {split}" if len(runs) > 1 else split
            panels.setdefault(field, []).append((label, steps, values))
    return dict(sorted(panels.items(), key=lambda item: (item[0] != "loss", item[0])))


def y_label(field: str) -> str:
    """The y-axis label of a panel: what the quantity is and, where it has one, its unit."""
    if field in Y_LABELS:
        return Y_LABELS[field]
    if RECALL.search(field):
        return f"{field.replace('_', ' ')} (fraction)"
    return field.replace("_", " ")


def curves_figure(paths: Sequence[str | Path], title: str | None = None) -> Figure:
    """The curves of one or more metrics.jsonl files, one panel per quantity, runs overlaid."""
    from matplotlib.figure import Figure

    runs = [(Path(p).parent.name or str(p), read_metrics(p)) for p in paths]
    panels = curve_panels(runs)
    if not panels:
        raise InputFileError(f"no numeric metrics to plot in {', '.join(map(str, paths))}")
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(PANEL_WIDTH * columns, PANEL_HEIGHT * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax, (field, series) in zip(axes.flat, panels.items()):
        for label, steps, values in series:
            marker = "o" if len(steps) < 30 else None  # sparse series (evaluations, epochs) as points
            ax.plot(steps, values, label=label, marker=marker, markersize=3)
        ax.set_title(field)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(y_label(field))
        every = [v for _, _, values in series for v in values]
        if min(every) > 0 and max(every) > LOG_SPAN * min(every):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    return figure


def plot_curves(paths: Sequence[str | Path], out: str | Path, title: str | None = None) -> Path:
    """Draw `curves_figure` to a PNG; returns its path."""
    figure = curves_figure(paths, title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    return out
