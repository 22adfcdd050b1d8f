"""Loss and metric curves from metrics.jsonl files, drawn to one PNG (one panel per quantity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from sciformer.errors import InputFileError
from sciformer.training.metrics import LABELS, read_metrics

SKIPPED = ("steps", "micro_batches")  # counters in epoch rows, not curves
PANEL_WIDTH = 4.5  # inches per panel
PANEL_HEIGHT = 3.2
LOG_SPAN = 20.0  # a panel whose positive values span more than this factor gets a log scale


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


def plot_curves(paths: Sequence[str | Path], out: str | Path, title: str | None = None) -> Path:
    """Draw the curves of one or more metrics.jsonl files to a PNG; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(Path(p).parent.name or str(p), read_metrics(p)) for p in paths]
    panels = curve_panels(runs)
    if not panels:
        raise InputFileError(f"no numeric metrics to plot in {', '.join(map(str, paths))}")
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(PANEL_WIDTH * columns, PANEL_HEIGHT * rows), squeeze=False)
    for ax, (field, series) in zip(axes.flat, panels.items()):
        for label, steps, values in series:
            marker = "o" if len(steps) < 30 else None  # sparse series (evaluations, epochs) as points
            ax.plot(steps, values, label=label, marker=marker, markersize=3)
        ax.set_title(field)
        ax.set_xlabel("optimizer step")
        every = [v for _, _, values in series for v in values]
        if min(every) > 0 and max(every) > LOG_SPAN * min(every):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
