"""What every `sciformer` command shares: error handling, the invocation's plugin host, `--option` parsing and tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import click

from sciformer.errors import SciformerError
from sciformer.plugins import PluginHost

SHORT_CELL = 20  # table columns no wider than this never wrap; wider ones fold to fit the terminal


class SciformerGroup(click.Group):
    """A click group that turns a SciformerError into one line on stderr and exit code 1 (plugin groups use it too)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; user mistakes become a ClickException, never a traceback."""
        try:
            return super().invoke(ctx)
        except SciformerError as error:
            raise click.ClickException(str(error)) from None


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


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str, as_json: bool, shown: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
    """Rows as indented JSON when `as_json`, else as a table of `columns` (each row passed through `shown` first)."""
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    print_table([shown(row) for row in rows] if shown else rows, columns, title)


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
