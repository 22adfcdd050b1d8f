"""The `sciformer vision` command group."""

from __future__ import annotations

import itertools
from pathlib import Path

import click
import numpy as np
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model
from sciformer.cli.helpers import host_of, parse_options
from sciformer.errors import BadRecordError, ConfigError
from sciformer.reader_options import inference_options
from sciformer.reading import read_records

from .overlay import save_head_grid, save_overlay
from .rollout import HEAD_FUSIONS, image_attention


@click.group("vision")
def vision() -> None:
    """Vision tools: attention maps and attention rollout over images."""


@vision.command("attention")
@click.option("--model", required=True, help="Checkpoint directory or shipped model name (a vision model).")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path), help="Image file, folder, or stack (.h5 / .npz / .csv).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reader option, e.g. dataset=images.")
@click.option("--limit", default=1, show_default=True, help="Images mapped from --input (the first ones).")
@click.option("--layer", default=-1, show_default=True, help="Layer whose heads are drawn (-1 = last).")
@click.option("--head-fusion", type=click.Choice(HEAD_FUSIONS), default="mean", show_default=True, help="How heads combine in the rollout.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for .npy arrays and .png overlays.")
@click.pass_context
def attention(ctx: click.Context, model: str, input_path: Path, options: tuple[str, ...], limit: int, layer: int, head_fusion: str, out: Path) -> None:
    """Per-layer, per-head attention and attention rollout of images, as arrays and PNG overlays.

    For each image writes NAME.attention.npy (layers, heads, T, T), NAME.rollout.npy (rows, cols),
    NAME.rollout.png (rollout over the image) and NAME.layerL.png ([CLS] attention of each head; a Swin's mean over patches, its maps lifted to the patch grid).
    """
    host = host_of(ctx)
    model_dir = resolve_model(model, host)
    info = read_checkpoint_info(model_dir)
    if info.config.domain != "vision":
        raise ConfigError(f"--model {model!r} is a {info.config.domain!r} model, not a vision model")
    reader_options = inference_options(host, info, input_path, parse_options(options))
    records = list(itertools.islice(read_records(host, "vision", input_path, reader_options), limit))
    net = load_checkpoint(model_dir, host)
    tokenizer = host.tokenizer(info.config)
    out.mkdir(parents=True, exist_ok=True)
    for record in records:
        try:
            found = image_attention(net, tokenizer, record)
        except BadRecordError as error:
            click.echo(f"{record.id}: skipped ({error.reason})", err=True)
            continue
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in record.id)
        chosen = layer % found.maps.shape[0]
        np.save(out / f"{stem}.attention.npy", found.maps)
        rollout = found.rollout(head_fusion)
        np.save(out / f"{stem}.rollout.npy", rollout)
        heading = f"{record.id}: {found.prediction}" if found.prediction else record.id
        rollout_title = f"{heading}\nattention rollout ({head_fusion} over heads)"
        save_overlay(found.pixels, rollout, found.patch_size, out / f"{stem}.rollout.png", rollout_title, "rollout weight")
        heads_title = f"{heading}\n{'[CLS]' if found.cls else 'mean patch'} attention, layer {chosen}"
        save_head_grid(found.pixels, found.cls_maps(chosen), found.patch_size, out / f"{stem}.layer{chosen}.png", heads_title)
        click.echo(f"{record.id}: maps {found.maps.shape}, grid {found.grid} -> {out / stem}.*")
