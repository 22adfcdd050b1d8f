"""The core fills in class names from training targets when no domain does (every domain alike)."""

from __future__ import annotations

from sciformer.config import ModelConfig
from sciformer.records import Record
from sciformer.targets import with_class_names


def test_sequence_classes_sorted_numerically_and_errors_left_out() -> None:
    records = [Record("a", "x", 10), Record("b", "x", 2), Record("c", "x", 2), Record("bad", "x", 7, error="unreadable"), Record("none", "x")]
    config = with_class_names(ModelConfig(domain="text", task="sequence-classification"), records)
    assert config.labels == ("2", "10") and config.num_labels == 2


def test_token_classes_are_the_letters_less_the_unlabelled_mark() -> None:
    records = [Record("a", "MKV", "HE."), Record("b", "MK", "C-")]
    assert with_class_names(ModelConfig(domain="text", task="token-classification"), records).labels == ("-", "C", "E", "H")
    marked = ModelConfig(domain="text", task="token-classification", domain_options={"unlabelled": "-"})
    assert with_class_names(marked, records).labels == (".", "C", "E", "H")


def test_given_labels_and_other_tasks_are_left_alone() -> None:
    records = [Record("a", "x", "cat")]
    given = ModelConfig(domain="text", task="sequence-classification", num_labels=2, labels=("cat", "dog"))
    assert with_class_names(given, records) is given
    regression = ModelConfig(domain="text", task="sequence-regression", num_labels=1)
    assert with_class_names(regression, records) is regression
