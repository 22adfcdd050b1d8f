"""Reader options at inference: the user's data options, checked against the reader; the model's column names used where present."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner
from sciformer.build import build_model
from sciformer.checkpoint import CONFIG, read_checkpoint_info, save_checkpoint
from sciformer.cli.main import build_cli
from sciformer.config import ModelConfig
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.reader_options import MODEL_COLUMNS, checkpoint_options, inference_options
from sciformer.reading import read_records
from sciformer.scoring import score

WORDS = ["<start>", "the", "man", "chicken", "ordered", "woman", "beef"]
TRAINING_OPTIONS = {"data_column": "sentence", "target_column": "dish", "id_column": "name", "root": "/data/of/the/training/run"}


@pytest.fixture
def classifier(host: PluginHost, tmp_path: Path) -> Path:
    """An untrained text classifier whose checkpoint stores its training options as older checkpoints do."""
    config = ModelConfig(
        domain="text", dim=16, depth=1, heads=2, max_positions=16, task="sequence-classification", num_labels=2, labels=("beef", "chicken"),
        domain_options={"vocab": WORDS},
    )
    return save_checkpoint(build_model(config, host), tmp_path / "model", host, extra={"reader_options": TRAINING_OPTIONS})


def table(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_label_column_is_used_when_present_and_never_required(host: PluginHost, classifier: Path, tmp_path: Path) -> None:
    """Scoring a table without the model's target column works; with it, the records carry its labels."""
    unlabelled = table(tmp_path / "new.csv", "name,sentence", "a,<start> man ordered the chicken", "b,<start> woman ordered")
    summary = score(classifier, unlabelled, tmp_path / "new.h5", host)
    assert (summary.scored, summary.bad) == (2, 0)
    with h5py.File(tmp_path / "new.h5") as results:
        assert list(results["record_id"].asstr()[:]) == ["a", "b"]
    labelled = table(tmp_path / "labelled.csv", "name,sentence,dish", "a,<start> man ordered the chicken,chicken", "b,<start> woman ordered,")
    options = inference_options(host, read_checkpoint_info(classifier), labelled)
    assert [(r.id, r.target, r.error) for r in read_records(host, "text", labelled, options)] == [("a", "chicken", None), ("b", None, None)]
    score(classifier, labelled, tmp_path / "labelled.h5", host)
    with h5py.File(tmp_path / "labelled.h5") as results:
        assert json.loads(results.attrs["reader_options"])[MODEL_COLUMNS]["target_column"] == "dish"


def test_the_training_runs_data_options_are_not_used(host: PluginHost, classifier: Path, tmp_path: Path) -> None:
    """Only column names come from the checkpoint (not `root`); the user's options win, an empty one means none."""
    info = read_checkpoint_info(classifier)
    path = table(tmp_path / "x.csv", "text,dish", "<start> man,beef")
    options = inference_options(host, info, path)
    assert options == {MODEL_COLUMNS: {"data_column": "sentence", "target_column": "dish", "id_column": "name"}}
    assert [(r.id, r.data, r.target) for r in read_records(host, "text", path, options)] == [("1", "<start> man", "beef")]
    chosen = inference_options(host, info, path, {"target_column": None})
    assert [r.target for r in read_records(host, "text", path, chosen)] == [None]


def test_old_and_new_checkpoints_give_the_same_options(host: PluginHost, classifier: Path, tmp_path: Path) -> None:
    """A checkpoint storing `model_columns` / `model_options` reads as one storing the training options whole."""
    split = tmp_path / "split"
    shutil.copytree(classifier, split)
    meta = json.loads((split / CONFIG).read_text())
    meta["extra"] = checkpoint_options(host, "text", meta["extra"].pop("reader_options"))
    (split / CONFIG).write_text(json.dumps(meta))
    path = table(tmp_path / "x.csv", "sentence", "<start> man")
    assert inference_options(host, read_checkpoint_info(split), path) == inference_options(host, read_checkpoint_info(classifier), path)


def test_unknown_options_are_refused_with_the_accepted_list(host: PluginHost, classifier: Path, tmp_path: Path) -> None:
    """`--option bogus=1` stops the run in one line naming what the reader accepts."""
    path = table(tmp_path / "x.csv", "sentence", "<start> man")
    with pytest.raises(ConfigError, match="reader text-table does not accept option"):
        score(classifier, path, tmp_path / "out.h5", host, options={"bogus": 1})
    args = ["score", "--model", str(classifier), "--input", str(path), "--output", str(tmp_path / "o.h5"), "--option", "bogus=1"]
    result = CliRunner().invoke(build_cli(host), args, obj=host)
    assert result.exit_code == 1
    assert "Error: reader text-table does not accept option(s) bogus; it accepts: data_column, id_column, target_column" in result.output
    lines = tmp_path / "x.txt"
    lines.write_text("<start> man\n")
    with pytest.raises(ConfigError, match="it accepts: none"):
        inference_options(host, read_checkpoint_info(classifier), lines, {"data_column": "text"})


def test_table_ids_default_to_an_id_column(host: PluginHost, tmp_path: Path) -> None:
    """A table with an `id` column names its records by it; without one, by row number."""
    path = table(tmp_path / "x.csv", "text,id", "<start> man,first", "<start> woman,second")
    assert [r.id for r in read_records(host, "text", path)] == ["first", "second"]
    assert [r.id for r in read_records(host, "text", path, {"id_column": None})] == ["1", "2"]


def test_readers_command_lists_suffixes_and_options(host: PluginHost) -> None:
    """`sciformer readers text` names each reader, its suffixes and the options it accepts."""
    result = CliRunner().invoke(build_cli(host), ["readers", "text", "--json"], obj=host)
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["text-table"]["suffixes"] == [".csv", ".tsv"] and set(rows["text-table"]["options"]) == {"data_column", "id_column", "target_column"}
    assert rows["text-lines"]["options"] == {}
    listed = CliRunner().invoke(build_cli(host), ["readers", "text"], obj=host, terminal_width=200)
    assert listed.exit_code == 0 and "target_column" in listed.output and "text-lines" in listed.output
