"""`sciformer contrastive`: train a CLIP-style pair of encoders, score retrieval, classify zero-shot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click

from sciformer.cli.helpers import host_of, parse_options


@click.group("contrastive")
def contrastive() -> None:
    """Contrastive training across domains: two encoders, InfoNCE, recall@k, zero-shot labels."""


@contrastive.command("train")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value, e.g. training.lr=1e-4.")
@click.pass_context
def train(ctx: click.Context, recipe: Path, overrides: tuple[str, ...]) -> None:
    """Train from a contrastive RECIPE.yaml; prints validation and test retrieval against random."""
    from sciformer.contrastive.training import train_contrastive

    result = train_contrastive(recipe, host_of(ctx), overrides)
    click.echo(json.dumps({"output": str(result.output), "steps": result.steps, "best_step": result.best_step, "valid": result.valid, "test": result.test}, indent=2))


@contrastive.command("evaluate")
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path), help="A trained contrastive model folder.")
@click.option("--file", "file_path", type=click.Path(path_type=Path), help="Paired input: HDF5 (with --datasets) or a file both sides read.")
@click.option("--datasets", default=None, help="LEFT,RIGHT: the two row-aligned HDF5 datasets.")
@click.option("--left", "left_path", type=click.Path(path_type=Path), help="Left records (with --right and --pairs).")
@click.option("--right", "right_path", type=click.Path(path_type=Path), help="Right records.")
@click.option("--pairs", "pairs_path", type=click.Path(path_type=Path), help="CSV / TSV table of (left id, right id) rows.")
@click.option("--columns", default=None, help="LEFT_ID,RIGHT_ID columns of the pairs table (default: its first two).")
@click.option("--k", "ks", default="1,5,10", show_default=True, help="Comma-separated k of recall@k.")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.pass_context
def evaluate(
    ctx: click.Context, model_dir: Path, file_path: Path | None, datasets: str | None, left_path: Path | None, right_path: Path | None,
    pairs_path: Path | None, columns: str | None, ks: str, batch_size: int, device: str,
) -> None:
    """Recall@k in both directions (and zero-shot accuracy with the model's labels) on paired records."""
    from sciformer.contrastive.pairs import Side, read_pairs
    from sciformer.contrastive.training import ContrastiveTrainer, load_contrastive
    from sciformer.training.trainer import TrainingConfig

    host = host_of(ctx)
    model, meta = load_contrastive(model_dir, host, device)
    data = {"file": file_path, "left": left_path, "right": right_path, "pairs": pairs_path}
    data.update(datasets=datasets.split(",") if datasets else None, columns=columns.split(",") if columns else None)
    sides = [Side(model.encoder(side).config.domain, meta.get(f"{side}_options", {})) for side in ("left", "right")]
    pairs = read_pairs({k: v for k, v in data.items() if v is not None}, *sides, host)
    tokenizers = (host.tokenizer(model.left.config), host.tokenizer(model.right.config))
    scorer = ContrastiveTrainer(model, tokenizers, host, TrainingConfig(batch_size=batch_size, device=device), model_dir, [int(k) for k in ks.split(",")], meta)
    encoded = scorer.encode(pairs, "input")
    labels = meta.get("labels") or []
    metrics = {**scorer.evaluate(encoded), **scorer.zero_shot_accuracy(encoded, labels, None)}
    click.echo(json.dumps({"pairs": len(encoded), **metrics}, indent=2))


@contrastive.command("classify")
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path), help="A trained contrastive model folder.")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path), help="Left-domain records to label.")
@click.option("--labels", "labels_path", type=click.Path(path_type=Path), help="Right-domain label records (default: the labels seen in training).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reader option for --input (over the model's left reader options).")
@click.option("--output", type=click.Path(path_type=Path), help="CSV of id, label, similarity (default: print).")
@click.option("--device", default="cpu", show_default=True)
@click.pass_context
def classify(ctx: click.Context, model_dir: Path, input_path: Path, labels_path: Path | None, options: tuple[str, ...], output: Path | None, device: str) -> None:
    """Zero-shot classification: each record gets the label whose embedding is nearest; accuracy when records carry targets."""
    from sciformer.checkpoint import read_checkpoint_info
    from sciformer.contrastive.retrieval import embed_encoded
    from sciformer.contrastive.training import load_contrastive
    from sciformer.reader_options import inference_options
    from sciformer.reading import read_records
    from sciformer.records import Record

    host = host_of(ctx)
    model, meta = load_contrastive(model_dir, host, device)
    if labels_path is not None:
        right_options = inference_options(host, read_checkpoint_info(model_dir / "right"), labels_path)
        label_records = list(read_records(host, model.right.config.domain, labels_path, right_options))
    else:
        label_records = [Record(f"label-{i}", text) for i, text in enumerate(meta.get("labels") or [])]
    if not label_records:
        raise click.ClickException("the model keeps no labels; give --labels FILE")
    left_tokenizer, right_tokenizer = host.tokenizer(model.left.config), host.tokenizer(model.right.config)
    left_options = inference_options(host, read_checkpoint_info(model_dir / "left"), input_path, parse_options(options))
    records = list(read_records(host, model.left.config.domain, input_path, left_options))
    encoded = [(r.id, left_tokenizer.encode(r)) for r in records]
    names = [str(r.data) for r in label_records]
    label_vectors = embed_encoded(model, "right", right_tokenizer, [(r.id, right_tokenizer.encode(r)) for r in label_records], 64, model.logit_scale.device)
    vectors = embed_encoded(model, "left", left_tokenizer, encoded, 64, model.logit_scale.device)
    similarity, best = (vectors @ label_vectors.T).max(dim=1)
    rows = [(r.id, names[int(i)], float(s)) for r, i, s in zip(records, best, similarity)]
    known = [(r, row) for r, row in zip(records, rows) if r.target is not None]
    if output is not None:
        with open(output, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "label", "similarity"])
            writer.writerows(rows)
    else:
        for row in rows:
            click.echo(f"{row[0]}\t{row[1]}\t{row[2]:.3f}")
    if known:
        accuracy = sum(str(r.target) == row[1] for r, row in known) / len(known)
        click.echo(f"zero-shot accuracy {accuracy:.3f} over {len(known)} records with targets ({len(names)} labels, uniform guess {1 / len(names):.3f})", err=True)
