"""`sciformer molecule ...`: benchmark splits, the fingerprint baseline, model evaluation and featurization."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click
import numpy as np
from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.records import Record


@click.group("molecule")
def molecule_commands() -> None:
    """Molecule tools: scaffold / random splits, Morgan-fingerprint baseline, evaluation, featurization."""


@molecule_commands.command("split")
@click.argument("table", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for train.csv, valid.csv, test.csv.")
@click.option("--method", type=click.Choice(["scaffold", "random"]), default="scaffold", show_default=True)
@click.option("--valid", default=0.1, show_default=True, help="Fraction of rows for validation.")
@click.option("--test", default=0.1, show_default=True, help="Fraction of rows for test.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random split (and of the scaffold-group order).")
@click.option("--smiles-column", default="smiles", show_default=True)
def split_command(table: Path, out: Path, method: str, valid: float, test: float, seed: int, smiles_column: str) -> None:
    """Split a SMILES table into train / valid / test CSV files."""
    from sciformer_molecule.splits import split_file

    written = split_file(table, out, method, valid, test, seed, smiles_column)
    counts = {part: sum(1 for _ in open(path, encoding="utf-8")) - 1 for part, path in written.items()}  # noqa: SIM115
    click.echo(f"{method} split of {table}: " + ", ".join(f"{part} {count}" for part, count in counts.items()) + f" -> {out}")


@molecule_commands.command("baseline")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--target-column", required=True, help="Column holding the target.")
@click.option("--classification", is_flag=True, help="Report ROC-AUC of a classifier instead of RMSE.")
@click.option("--method", type=click.Choice(["ridge", "strongest"]), default="ridge", show_default=True, help="ridge on Morgan fingerprints, or the strongest simple baseline: a random forest on RDKit descriptors (regression), logistic regression on Morgan fingerprints (classification).")
@click.option("--smiles-column", default="smiles", show_default=True)
def baseline_command(folder: Path, target_column: str, classification: bool, method: str, smiles_column: str) -> None:
    """A baseline fitted on FOLDER/train.csv, chosen on valid.csv, scored once on test.csv; metrics as JSON."""
    from sciformer_molecule.baseline import run_baseline
    from sciformer_molecule.forest import forest_baseline, logistic_baseline

    parts = [_table(folder / f"{part}.csv", smiles_column, target_column) for part in ("train", "valid", "test")]
    if method == "ridge":
        result = run_baseline(*parts, classification=classification)
    else:
        result = (logistic_baseline if classification else forest_baseline)(*parts)
    click.echo(json.dumps(result, indent=2))


@molecule_commands.command("evaluate")
@click.option("--model", required=True, help="Checkpoint directory or shipped model name.")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path, exists=True), help="Labelled records.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reader option, e.g. target_column=logS.")
@click.pass_obj
def evaluate_command(host: PluginHost, model: str, input_path: Path, options: tuple[str, ...]) -> None:
    """RMSE / MAE / R^2 (regression) or ROC-AUC / accuracy (classification) of a model on a file; JSON."""
    from sciformer.cli.helpers import parse_options

    from sciformer_molecule.evaluation import evaluate_file

    click.echo(json.dumps(evaluate_file(model, input_path, host, parse_options(options)), indent=2))


@molecule_commands.command("featurize")
@click.argument("molecules", nargs=-1, required=True)
@click.option("--geometry", type=click.Choice(["3d", "2d", "topological"]), default="3d", show_default=True)
@click.pass_obj
def featurize_command(host: PluginHost, molecules: tuple[str, ...], geometry: str) -> None:
    """Show the tokens MAT sees for SMILES strings: canonical SMILES, atom count, geometry, features."""
    config = ModelConfig(domain="molecule", position="none", domain_options={"geometry": geometry})
    tokenizer = host.tokenizer(config)
    for number, smiles in enumerate(molecules, start=1):
        try:
            encoding = tokenizer.encode(Record(str(number), smiles))
        except BadRecordError as error:
            click.echo(f"{smiles}: bad record ({error.reason})")
            continue
        distances = encoding.distances.numpy()
        atoms = distances[1:, 1:] if tokenizer.options.dummy_node else distances
        click.echo(f"{smiles}: canonical {encoding.smiles}, {encoding.features.shape[0]} tokens x {encoding.features.shape[1]} features, {encoding.geometry} geometry, largest distance {np.max(atoms):.2f} A")


def _table(path: Path, smiles_column: str, target_column: str) -> tuple[list[str], np.ndarray]:
    """SMILES and float targets of a CSV file (rows with an empty target are skipped)."""
    if not path.is_file():
        raise InputFileError(f"missing {path} (write it with `sciformer molecule split`)")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get(target_column, "").strip()]
    if rows and (smiles_column not in rows[0] or target_column not in rows[0]):
        raise InputFileError(f"{path}: needs columns {smiles_column!r} and {target_column!r}")
    return [row[smiles_column] for row in rows], np.array([float(row[target_column]) for row in rows])
