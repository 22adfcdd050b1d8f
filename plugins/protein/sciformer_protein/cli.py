"""`sciformer protein ...`: embeddings, variant scores, pseudo-log-likelihoods, contact maps and fitting their regression."""

from __future__ import annotations

import csv
import itertools
import json
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TextIO

import click
import numpy as np
from sciformer.checkpoint import CheckpointInfo, load_checkpoint, read_checkpoint_info, resolve_model, save_checkpoint
from sciformer.cli.helpers import host_of, parse_options
from sciformer.engine.model import SciformerModel
from sciformer.errors import BadRecordError, ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reader_options import inference_options
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring import score
from sciformer.scoring.encoding import default_workers

from .contact_fit import fit_contacts, install_contact_head
from .contacts import METHODS as CONTACT_METHODS
from .contacts import predict_contacts, save_contact_png
from .inference import predict_residues
from .likelihood import pseudo_log_likelihood
from .marginals import require_lm
from .scoring import BOS, LAYER, TRUNCATED
from .structures import read_chains
from .tokenizer import ProteinTokenizer
from .variants import METHODS as VARIANT_METHODS
from .variants import all_substitutions, score_variants

DOMAIN = "protein"
BATCH_TOKENS_HELP = "Token budget per batch (default: 4096 on the CPU, 16384 on CUDA)."


def protein_checkpoint(name: str, host: PluginHost) -> tuple[Path, CheckpointInfo]:
    """The folder of a protein checkpoint (directory or shipped name) and what its config.json says."""
    directory = resolve_model(name, host)
    info = read_checkpoint_info(directory)
    if info.config.domain != DOMAIN:
        raise ConfigError(f"--model {name!r} is a {info.config.domain!r} model, not a protein model")
    return directory, info


def load_protein_model(name: str, host: PluginHost, device: str = "cpu") -> tuple[SciformerModel, ProteinTokenizer, CheckpointInfo]:
    """A protein checkpoint (directory or shipped name), its tokenizer and what its config.json says."""
    directory, info = protein_checkpoint(name, host)
    return load_checkpoint(directory, host, device), host.tokenizer(info.config), info


def reader_options(host: PluginHost, info: CheckpointInfo, input_path: Path | None, options: tuple[str, ...]) -> dict:
    """The user's reader options for --input, checked against its reader (none without --input)."""
    return inference_options(host, info, input_path, parse_options(options)) if input_path is not None else {}


def input_records(host: PluginHost, input_path: Path | None, sequences: tuple[str, ...], options: dict) -> Iterator[Record]:
    """Records from --sequence values (ids seq-1, seq-2, ...) and then from an --input file."""
    for number, sequence in enumerate(sequences, start=1):
        yield Record(f"seq-{number}", sequence)
    if input_path is not None:
        yield from read_records(host, DOMAIN, input_path, options)


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


model_option = click.option("--model", required=True, help="Protein checkpoint directory or shipped model name.")
input_option = click.option("--input", "input_path", type=click.Path(path_type=Path), help="FASTA, .txt, CSV or HDF5 file of sequences.")
sequence_option = click.option("--sequence", "sequences", multiple=True, help="A sequence given inline (repeatable).")
options_option = click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reader option, e.g. data_column=sequence.")
device_option = click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
csv_path_option = click.option("--output", type=click.Path(path_type=Path), help="CSV to write (default: standard output).")
batch_tokens_option = click.option("--batch-tokens", default=None, type=click.IntRange(min=1), help=BATCH_TOKENS_HELP)


def csv_command(command: Callable[..., None]) -> click.Command:
    """`command` as a `sciformer protein` command that writes a CSV row per input record, called with the click
    context and the options model, records, output, token budget and device."""
    command = click.pass_context(command)
    for option in reversed((model_option, input_option, sequence_option, options_option, csv_path_option, batch_tokens_option, device_option)):
        command = option(command)
    return protein.command()(command)


@contextmanager
def csv_output(output: Path | None) -> Iterator[TextIO]:
    """The --output CSV file opened for writing (closed afterwards), or standard output when none is given."""
    if output is None:
        yield sys.stdout
        return
    with open(output, "w", encoding="utf-8", newline="") as handle:
        yield handle


@click.group()
def protein() -> None:
    """Protein tools: embeddings, variant effects, pseudo-log-likelihoods, contact maps, per-residue classes."""


@protein.command()
@model_option
@input_option
@sequence_option
@options_option
@click.option("--output", required=True, type=click.Path(path_type=Path), help="HDF5 file to write.")
@click.option("--layer", default=-1, show_default=True, help="Layer: 0 = embeddings, k = block k, -1 = last (after the final norm).")
@click.option("--per-residue", is_flag=True, help="Also store per-residue vectors (token_embeddings: residues only, flattened per record).")
@batch_tokens_option
@device_option
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.pass_context
def embed(ctx: click.Context, model: str, input_path: Path | None, sequences: tuple[str, ...], options: tuple[str, ...], output: Path, layer: int, per_residue: bool, batch_tokens: int | None, device: str, overwrite: bool) -> None:
    """Mean over residues (`embedding`), BOS (`bos`) and with --per-residue each residue's vector
    (`token_embeddings`) of one layer, for every record, into HDF5: `sciformer score --outputs
    embedding,bos[,token_embeddings],truncated --option layer=K`, in the results layout of `sciformer score`."""
    host = host_of(ctx)
    if (input_path is None) == (not sequences):
        raise click.ClickException("give the records as --input or as --sequence (one of them)")
    protein_checkpoint(model, host)  # another domain's model is refused before its reader sees the options
    chosen = parse_options(options)
    if LAYER in chosen:
        raise click.ClickException("give the layer as --layer, not --option layer=...")
    outputs = ["embedding", BOS, *(["token_embeddings"] if per_residue else []), TRUNCATED]
    with sequences_file(sequences) if input_path is None else nullcontext(input_path) as records:
        summary = score(
            model, records, output, host, options={**chosen, LAYER: layer}, outputs=outputs, batch_tokens=batch_tokens, device=device,
            workers=default_workers(), overwrite=overwrite, progress=sys.stderr.isatty(),
        )
    click.echo(f"embedded {summary.scored}, bad {summary.bad} -> {output}")


@contextmanager
def sequences_file(sequences: Sequence[str]) -> Iterator[Path]:
    """--sequence values as a temporary FASTA file (ids seq-1, seq-2, ...), removed on exit."""
    with tempfile.TemporaryDirectory(prefix="sciformer-sequences-") as folder:
        path = Path(folder) / "sequences.fasta"
        path.write_text("".join(f">seq-{number}\n{sequence}\n" for number, sequence in enumerate(sequences, start=1)), encoding="utf-8")
        yield path


@csv_command
def residues(ctx: click.Context, model: str, input_path: Path | None, sequences: tuple[str, ...], options: tuple[str, ...], output: Path | None, batch_tokens: int | None, device: str) -> None:
    """Per-residue classes of a token-classification model (e.g. secondary structure), one string per record."""
    host = host_of(ctx)
    net, tokenizer, info = load_protein_model(model, host, device)
    records = input_records(host, input_path, sequences, reader_options(host, info, input_path, options))
    with csv_output(output) as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "prediction", "mean_confidence", "error"])
        for result in predict_residues(net, tokenizer, records, batch_tokens=batch_tokens):
            if result.error:
                writer.writerow([result.record_id, "", "", result.error])
                continue
            joiner = "" if all(len(label) == 1 for label in result.labels) else " "
            writer.writerow([result.record_id, joiner.join(result.labels), f"{result.probabilities.max(-1).mean():.4f}", ""])


@protein.command()
@model_option
@click.option("--sequence", help="The wild-type sequence.")
@click.option("--fasta", type=click.Path(path_type=Path, exists=True), help="FASTA file whose first record is the wild type.")
@click.option("--mutations", "mutations", multiple=True, help="A variant such as A23G or A23G:K40R (repeatable).")
@click.option("--input", "input_path", type=click.Path(path_type=Path, exists=True), help="CSV with a column of variants.")
@click.option("--column", default="mutant", show_default=True, help="Column of --input holding the variants.")
@click.option("--scan", is_flag=True, help="Score every single substitution (a deep mutational scan).")
@click.option("--method", type=click.Choice(VARIANT_METHODS), default="masked-marginal", show_default=True)
@csv_path_option
@batch_tokens_option
@device_option
@click.pass_context
def variants(ctx: click.Context, model: str, sequence: str | None, fasta: Path | None, mutations: tuple[str, ...], input_path: Path | None, column: str, scan: bool, method: str, output: Path | None, batch_tokens: int | None, device: str) -> None:
    """Score variants of a wild-type sequence (log-odds of mutant vs wild type, summed over mutations)."""
    host = host_of(ctx)
    if (sequence is None) == (fasta is None):
        raise click.ClickException("give the wild type as --sequence or --fasta (one of them)")
    if fasta is not None:
        first = next(iter(read_records(host, DOMAIN, fasta, {})), None)
        if first is None:
            raise InputFileError(f"{fasta}: no sequence found")
        sequence = first.data
    wanted = list(mutations)
    rows: list[dict] = [{column: m} for m in mutations]
    if input_path is not None:
        with open(input_path, encoding="utf-8", newline="") as handle:
            table = csv.DictReader(handle)
            if column not in (table.fieldnames or []):
                raise InputFileError(f"{input_path}: no column {column!r} (columns: {table.fieldnames})")
            for row in table:
                rows.append(row)
                wanted.append(row[column])
    if scan:
        scanned = all_substitutions(sequence)
        rows += [{column: m} for m in scanned]
        wanted += scanned
    if not wanted:
        raise click.ClickException("give --mutations, --input or --scan")
    net, tokenizer, _ = load_protein_model(model, host, device)
    scores = score_variants(net, tokenizer, sequence, wanted, method, batch_tokens)
    fields = list(dict.fromkeys([*(k for row in rows for k in row), method, "error"]))
    with csv_output(output) as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row, result in zip(rows, scores):
            writer.writerow({**row, method: "" if result.score is None else f"{result.score:.6g}", "error": result.error or ""})
    bad = sum(r.error is not None for r in scores)
    if bad:
        click.echo(f"{bad} variant(s) could not be scored; see the error column", err=True)


@csv_command
def pll(ctx: click.Context, model: str, input_path: Path | None, sequences: tuple[str, ...], options: tuple[str, ...], output: Path | None, batch_tokens: int | None, device: str) -> None:
    """Pseudo-log-likelihood and pseudo-perplexity of each sequence."""
    host = host_of(ctx)
    net, tokenizer, info = load_protein_model(model, host, device)
    require_lm(net)  # before the header: a model that cannot answer writes nothing
    with csv_output(output) as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "length", "pll", "pseudo_perplexity", "error"])
        for record in input_records(host, input_path, sequences, reader_options(host, info, input_path, options)):
            try:
                result = pseudo_log_likelihood(net, tokenizer, record, batch_tokens)
                writer.writerow([record.id, len(result.per_residue), f"{result.pll:.6g}", f"{result.pseudo_perplexity:.6g}", ""])
            except BadRecordError as error:
                writer.writerow([record.id, "", "", "", error.reason])


@protein.command()
@model_option
@input_option
@sequence_option
@options_option
@click.option("--limit", default=10, show_default=True, help="Records to map from --input.")
@click.option("--method", type=click.Choice(CONTACT_METHODS), default="regression", show_default=True, help="ESM's logistic regression, or unsupervised APC scores.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for .npy arrays and .png maps.")
@device_option
@click.pass_context
def contacts(ctx: click.Context, model: str, input_path: Path | None, sequences: tuple[str, ...], options: tuple[str, ...], limit: int, method: str, out: Path, device: str) -> None:
    """Contact maps from attention (symmetrised, APC-corrected, logistic regression) as .npy and .png."""
    host = host_of(ctx)
    net, tokenizer, info = load_protein_model(model, host, device)
    records = list(itertools.islice(input_records(host, input_path, sequences, reader_options(host, info, input_path, options)), len(sequences) + limit))
    if not records:
        raise click.ClickException("give --sequence or --input")
    out.mkdir(parents=True, exist_ok=True)
    for record in records:
        try:
            contact_map = predict_contacts(net, tokenizer, record, method)
        except BadRecordError as error:
            click.echo(f"{record.id}: skipped ({error.reason})", err=True)
            continue
        array, image = out / f"{_safe_name(record.id)}.npy", out / f"{_safe_name(record.id)}.png"
        np.save(array, contact_map)
        save_contact_png(contact_map, image, f"{record.id}: {'contact probability' if method == 'regression' else 'APC attention score'}")
        click.echo(f"{record.id}: {contact_map.shape} -> {array}, {image}")


@protein.command("fit-contacts")
@model_option
@click.option("--structures", "structure_files", required=True, multiple=True, type=click.Path(path_type=Path, exists=True), help="A .pdb / .cif file, or a folder of them (repeatable); each file's first protein chain is used.")
@click.option("--hold-out", "held_out", multiple=True, help="Structure (file name without suffix) left out of the fit and reported (repeatable).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Checkpoint folder to write (may be the model's own).")
@click.pass_context
def fit_contacts_command(ctx: click.Context, model: str, structure_files: tuple[Path, ...], held_out: tuple[str, ...], out: Path) -> None:
    """Fit the contact regression (logistic regression on APC-corrected attention) on solved structures and store it in a checkpoint."""
    host = host_of(ctx)
    net, tokenizer, info = load_protein_model(model, host)
    files = sorted(f for path in structure_files for f in (path.iterdir() if path.is_dir() else [path]) if f.suffix.lower() in (".pdb", ".cif"))
    chains = [found[0] for found in (read_chains(f) for f in files) if found]
    unknown = set(held_out) - {f.stem for f in files}
    if unknown:
        raise click.ClickException(f"--hold-out {sorted(unknown)}: no such structure among {[f.stem for f in files]}")
    held = {chain.name for chain in chains if chain.name.rsplit("_", 1)[0] in held_out}
    fit = fit_contacts(net, tokenizer, chains, held)
    report = {"fitted_on": list(fit.fitted_on), "precision": fit.precision}
    save_checkpoint(install_contact_head(net, fit.head), out, host, extra={**info.extra, "contact_regression": report})
    click.echo(json.dumps(report["precision"], indent=1))
    click.echo(f"contact regression fitted on {len(fit.fitted_on)} chain(s) -> {out}")
