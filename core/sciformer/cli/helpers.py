"""What every `sciformer` command shares: the invocation's plugin host, `--option` parsing and tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from sciformer.plugins import PluginHost

SHORT_CELL = 20  # table columns no wider than this never wrap; wider ones fold to fit the terminal


def host_of(ctx: click.Context) -> PluginHost:
    """The PluginHost of this invocation; plugin commands get it with `@click.pass_obj`."""
    host = ctx.find_object(PluginHost)
    if host is None:
        raise click.ClickException("sciformer commands must run through sciformer.cli.main.main")
    return host


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """`--option key=value` pairs as a dict (values read as YAML scalars)."""
    from sciformer.training.recipe import parse_override

    options = {}
    for pair in pairs:
        keys, value = parse_override(pair)
        options[".".join(keys)] = value
    return options


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str) -> None:
    """Rows as a rich table that fits the terminal: short columns stay whole, long cells fold onto more
    lines (paths included), nothing is cut. Columns empty in every row are left out."""
    from rich.console import Console
    from rich.table import Table

    columns = [c for c in columns if any(_cell(row.get(c)) for row in rows)] or list(columns)
    table = Table(title=title)
    for column in columns:
        widest = max(len(column), *(len(_cell(row.get(column))) for row in rows)) if rows else len(column)
        table.add_column(column, overflow="fold", no_wrap=widest <= SHORT_CELL, min_width=len(column))
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    Console().print(table)


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)
