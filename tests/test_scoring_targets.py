"""Targets in a file being scored feed only the agreement figure: one the model cannot compare with
(an unknown class, a value that is no finite number) is left out of it with a note, never losing the row."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from sciformer.config import ModelConfig
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer.scoring import score
from sciformer.targets import encode_target, for_scoring

PROTEINS = Path(__file__).resolve().parents[1] / "plugins/protein/data"
CLASSES = ModelConfig(domain="text", task="sequence-classification", labels=("0", "1"), num_labels=2)
VALUES = ModelConfig(domain="text", task="sequence-regression", num_labels=1)


def test_a_whole_number_written_as_a_float_names_its_class() -> None:
    """`1.0` (how tables with gaps store integer columns) is class `1`; `1.5` and `yes` are no class."""
    assert [encode_target(Record("r", "x", target), CLASSES) for target in ("1.0", 0.0, " 1 ", 1)] == [1, 0, 1, 1]
    for target in ("1.5", "yes", "2"):
        assert for_scoring(Record("r", "x", target), CLASSES).target is None


def test_unusable_targets_are_dropped_with_a_note() -> None:
    kept = Record("r", "x", "1", warning="truncated")
    assert for_scoring(kept, CLASSES) is kept
    unknown = for_scoring(Record("r", "x", "yes", warning="truncated"), CLASSES)
    assert unknown.target is None and unknown.warning == "truncated; target left out of the agreement: class 'yes' is not one of the model's labels ['0', '1']"
    assert for_scoring(Record("r", "x", "abc"), VALUES).warning == "target left out of the agreement: regression target 'abc' is not a number"
    assert for_scoring(Record("r", "x", "inf"), VALUES).warning == "target left out of the agreement: regression target 'inf' is not finite"
    missing = for_scoring(Record("r", "x", "NaN"), VALUES)
    assert missing.target is None and missing.warning is None  # a missing measurement, not a mistake
    bad = Record("r", None, "yes", error="not UTF-8")
    assert for_scoring(bad, CLASSES) is bad


def test_rows_with_unknown_classes_are_scored_and_left_out_of_the_accuracy(tmp_path: Path) -> None:
    """DeepLoc rows labelled `Unknown` or `nucleus` score exactly as unlabelled ones; the accuracy counts the rest."""
    host = PluginHost()
    lines = (PROTEINS / "deeploc_sample.csv").read_text().splitlines()
    rows = [line.split(",") for line in lines[1:7]]
    rows[1][1], rows[4][1] = "Unknown", rows[4][1].lower()
    table = tmp_path / "labelled.csv"
    table.write_text("\n".join([lines[0], *(",".join(row) for row in rows)]) + "\n")
    labelled = score("esm2-deeploc-small", table, tmp_path / "labelled.h5", host, options={"target_column": "location"})
    plain = score("esm2-deeploc-small", table, tmp_path / "plain.h5", host, options={"target_column": ""})
    assert (labelled.scored, labelled.bad, labelled.noted) == (6, 0, 2) and labelled.agreement["records"] == 4
    assert (plain.scored, plain.noted, plain.agreement) == (6, 0, None)
    with h5py.File(tmp_path / "labelled.h5") as ours, h5py.File(tmp_path / "plain.h5") as reference:
        np.testing.assert_array_equal(ours["probabilities"][:], reference["probabilities"][:])
        errors = ours["error"].asstr()[:]
    assert errors[1] == "target left out of the agreement: class 'Unknown' is not one of the model's labels " + str(list(labels_of(tmp_path / "labelled.h5")))
    assert errors[4].startswith(f"target left out of the agreement: class '{rows[4][1]}' is not one of") and errors[0] == ""


def labels_of(path: Path) -> tuple[str, ...]:
    with h5py.File(path) as results:
        return tuple(str(label) for label in results["prediction"].attrs["labels"])
