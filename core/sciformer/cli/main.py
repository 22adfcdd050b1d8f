"""The `sciformer` command: plugins, registry, models, train, score, import, attention, and plugin commands."""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from sciformer import __version__
from sciformer.cli.contrastive import contrastive as contrastive_command
from sciformer.cli.helpers import SciformerGroup, host_of, parse_options, print_rows, print_table
from sciformer.cli.plot import plot as plot_command
from sciformer.cli.score import score as score_command
from sciformer.errors import SciformerError
from sciformer.plugins import PluginHost


@click.group(cls=SciformerGroup)
@click.version_option(__version__, prog_name="sciformer")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--threads", type=click.IntRange(min=1), envvar="SCIFORMER_THREADS", default=None, help="CPU threads for PyTorch (default: PyTorch's choice; env SCIFORMER_THREADS).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, threads: int | None) -> None:
    """sciformer: one transformer engine for science, extended by domain plugins."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    level = logging.WARNING - 10 * min(verbose, 2)
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:  # logs of batch jobs: one unwrapped line per message
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """Installed plugins: name, version, domains and hooks (and those that failed to load)."""
    title = "sciformer plugins (hooks without their sciformer_ prefix)"
    print_rows(host_of(ctx).describe(), ["name", "distribution", "version", "domains", "hooks", "error"], title, as_json, _short_hooks)


def _short_hooks(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "hooks": [hook.removeprefix("sciformer_") for hook in row.get("hooks", [])]}


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def registry(ctx: click.Context, as_json: bool) -> None:
    """The catalogue of known plugins, with what is installed."""
    from sciformer.registry import load_registry, registry_status

    title = "sciformer registry (--json for domains and paths)"
    columns = ["name", "distribution", "status", "installed", "summary", "error"]
    print_rows(registry_status(host_of(ctx), load_registry()), columns, title, as_json, lambda row: {**row, "installed": row["version"] if row["installed"] else "no"})


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """Trained models that installed plugins ship (usable as --model NAME)."""
    rows = [{"name": m.name, "domain": m.domain, "path": str(m.path), "summary": m.summary} for m in host_of(ctx).shipped_models().values()]
    print_rows(rows, ["name", "domain", "summary", "path"], "shipped models", as_json)


@cli.command()
@click.argument("domain")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def readers(ctx: click.Context, domain: str, as_json: bool) -> None:
    """The readers of DOMAIN: the suffixes each reads and the options (--option KEY=VALUE) it accepts."""
    from rich.markup import escape

    from sciformer.reader_options import describe_readers

    rows = describe_readers(host_of(ctx), domain)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    lines = []
    for row in rows:
        options = {"": "not declared (not checked)"} if row["options"] is None else row["options"] or {"": "none"}
        for index, (key, text) in enumerate(options.items()):
            first = {"reader": f"{row['name']}\n{escape(row['summary'])}", "suffixes": row["suffixes"]} if index == 0 else {}
            lines.append({**first, "option": key, "meaning": escape(text)})
    print_table(lines, ["reader", "suffixes", "option", "meaning"], f"{domain} readers")


@cli.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value, e.g. training.lr=1e-4.")
@click.option("--resume", is_flag=True, help="Continue a stopped run from its saved state.")
@click.pass_context
def train(ctx: click.Context, recipe: Path, overrides: tuple[str, ...], resume: bool) -> None:
    """Train a model from a RECIPE.yaml (domain, task, data, model, optimisation).

    Under `torchrun --standalone --nproc-per-node N -m sciformer train ...` the processes train one
    model together (DDP, or FSDP with training.fsdp: true); rank 0 writes and reports.

    \b
    Examples:
      sciformer train core/sciformer/builtin/text/recipes/who-ordered.yaml \\
          --set training.max_steps=100
      sciformer train plugins/molecule/recipes/mat-esol-small.yaml \\
          --set training.epochs=5 --set training.lr=1e-4

    The recipe's `data.options` are reader options (`{data_column: smiles, target_column: logS}`);
    `sciformer readers DOMAIN` lists the options each reader of a domain accepts.
    """
    from sciformer.training.recipe import train_recipe

    result = train_recipe(recipe, host_of(ctx), overrides, resume=resume)
    if os.environ.get("RANK", "0") != "0":
        return
    click.echo(json.dumps({"output": str(result.output), "steps": result.steps, "best_step": result.best_step, "valid": result.valid, "test": result.test}, indent=2))


@cli.command("import")
@click.argument("format_name", required=False, metavar="FORMAT")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Checkpoint directory to write.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Importer setting the weights do not reveal, e.g. heads=12.")
@click.option("--list", "list_only", is_flag=True, help="List the available importers.")
@click.pass_context
def import_weights(ctx: click.Context, format_name: str | None, source: Path | None, out: Path | None, options: tuple[str, ...], list_only: bool) -> None:
    """Import published weights from a local SOURCE in FORMAT into a checkpoint directory."""
    host = host_of(ctx)
    importers = host.importers()
    if list_only or not format_name:
        print_table([{"format": i.name, "domain": i.domain, "summary": i.summary} for i in importers.values()], ["format", "domain", "summary"], "weight importers")
        return
    if format_name not in importers:
        raise click.ClickException(f"unknown import format {format_name!r}; available: {sorted(importers)}")
    if source is None or out is None:
        raise click.ClickException("give SOURCE and --out DIR")
    if not source.exists():
        raise click.ClickException(f"source not found: {source}")
    settings = {key: str(value) for key, value in parse_options(options).items()}
    written = importers[format_name].run(source, out, host, settings)
    click.echo(f"imported {format_name} weights from {source} -> {written}")


@cli.command()
@click.option("--model", required=True, help="Checkpoint directory or shipped model name.")
@click.option("--input", "input_path", type=click.Path(path_type=Path), help="File of records (the first --limit are mapped).")
@click.option("--record", "texts", multiple=True, help="A record given inline (for domains whose records are strings).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reader option.")
@click.option("--limit", default=1, show_default=True, help="Records to map from --input.")
@click.option("--layer", default=-1, show_default=True, help="Layer drawn as PNG (-1 = last).")
@click.option("--head", "head_index", default=None, type=int, help="Head drawn as PNG (default: the mean over heads).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for .npy arrays and .png heatmaps.")
@click.pass_context
def attention(ctx: click.Context, model: str, input_path: Path | None, texts: tuple[str, ...], options: tuple[str, ...], limit: int, layer: int, head_index: int | None, out: Path) -> None:
    """Export attention maps (every layer and head as .npy, one heatmap as .png) for chosen records."""
    import itertools

    from sciformer.attention_maps import attention_maps, save_heatmap, save_maps
    from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model
    from sciformer.reader_options import inference_options
    from sciformer.reading import read_records
    from sciformer.records import Record

    host = host_of(ctx)
    model_dir = resolve_model(model, host)
    info = read_checkpoint_info(model_dir)
    records = [Record(id=f"record-{i + 1}", data=text) for i, text in enumerate(texts)]
    if input_path is not None:
        reader_options = inference_options(host, info, input_path, parse_options(options))
        records += list(itertools.islice(read_records(host, info.config.domain, input_path, reader_options), limit))
    if not records:
        raise click.ClickException("give --record TEXT or --input PATH")
    net = load_checkpoint(model_dir, host)
    tokenizer = host.tokenizer(info.config)
    out.mkdir(parents=True, exist_ok=True)
    for record in records:
        maps, labels = attention_maps(net, tokenizer, record)
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in record.id)
        saved = save_maps(maps, out / stem)
        drawn = maps[layer]  # (heads, T, T) of the chosen layer
        chosen = drawn.mean(axis=0) if head_index is None else drawn[head_index]
        which = "mean over heads" if head_index is None else f"head {head_index}"
        names = labels if len(labels) == chosen.shape[-1] else [str(i) for i in range(chosen.shape[-1])]
        png = save_heatmap(chosen, names, out / f"{stem}.png", f"{record.id}: layer {layer % len(maps)}, {which}")
        shape = (len(maps), *maps[0].shape) if saved.suffix == ".npy" else f"{len(maps)} layers of different sizes"
        click.echo(f"{record.id}: {shape} -> {saved}, {png}")


@cli.command()
@click.option("--markdown", is_flag=True, help="Print the hook reference (docs/hooks.md) as Markdown.")
@click.option("--api", is_flag=True, help="Print the API reference of the types a plugin touches (docs/api.md) as Markdown.")
@click.pass_context
def hooks(ctx: click.Context, markdown: bool, api: bool) -> None:
    """The hooks a plugin can implement, from their specifications (and which plugins implement each)."""
    from sciformer.apidoc import api_reference
    from sciformer.hookdoc import hook_reference

    if markdown or api:
        click.echo(api_reference() if api else hook_reference(), nl=False)
        return
    pm = host_of(ctx).pm
    rows = [{"hook": name, "implemented by": [impl.plugin_name for impl in caller.get_hookimpls()]} for name, caller in sorted(vars(pm.hook).items()) if name.startswith("sciformer_")]
    print_table(rows, ["hook", "implemented by"], "sciformer hooks")


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dir", "parent", default=".", show_default=True, type=click.Path(path_type=Path), help="Folder to create the plugin in.")
def new_plugin_command(name: str, parent: Path) -> None:
    """Write a complete plugin distribution NAME (hooks, examples, harness tests, README)."""
    from sciformer.scaffold import new_plugin

    target = new_plugin(name, parent)
    click.echo(f"created {target}; install it with: pip install -e {target}")


cli.add_command(score_command)
cli.add_command(plot_command)
cli.add_command(contrastive_command)


def build_cli(host: PluginHost) -> click.Group:
    """A fresh command group: the core commands plus every plugin's extra commands.

    A plugin whose commands fail to build, or clash with a command already there, is disabled and
    reported; the rest of the CLI keeps working.
    """
    group = copy.copy(cli)
    group.commands = dict(cli.commands)
    for plugin, answer in host.collect("sciformer_cli_commands"):
        commands = list(answer or [])
        clash = next((command.name for command in commands if command.name in group.commands), None)
        if clash is not None:
            host.disable(plugin, f"its command {clash!r} clashes with an existing sciformer command")
            continue
        for command in commands:
            group.add_command(command)
    return group


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `sciformer` console script."""
    try:
        host = PluginHost()
        group = build_cli(host)
    except SciformerError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    group.main(args=list(argv) if argv is not None else None, prog_name="sciformer", obj=host)
