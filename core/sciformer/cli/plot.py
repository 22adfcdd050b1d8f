"""`sciformer plot`: loss and metric curves of training runs to a PNG."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("plot")
@click.argument("metrics", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="PNG file to write.")
@click.option("--title", default=None, help="Figure title.")
def plot(metrics: tuple[Path, ...], out: Path, title: str | None) -> None:
    """Render the loss and metric curves of one or more METRICS.jsonl files (runs overlaid) to a PNG."""
    from sciformer.training.curves import plot_curves

    click.echo(f"curves of {len(metrics)} run(s) -> {plot_curves(metrics, out, title)}")
