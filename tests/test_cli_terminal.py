"""On an 80-column terminal: listing tables fold long cells instead of cutting them, and the help of
`train` and `score` shows worked examples as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PATH_COLUMN = 4  # shipped models: │ name │ domain │ summary │ path │


def sciformer(*args: str, columns: int = 80) -> str:
    """Output of `sciformer ARGS` run as a fresh process on a terminal `columns` wide."""
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "sciformer", *args], capture_output=True, text=True, check=True, env=env).stdout


@pytest.mark.parametrize("command", ["models", "plugins", "registry"])
def test_tables_fit_80_columns_without_cutting_cells(command: str) -> None:
    table = sciformer(command)
    assert "…" not in table
    assert max(len(line) for line in table.splitlines()) <= 80


@pytest.mark.parametrize("command", ["train", "score"])
def test_help_shows_two_examples_unwrapped_and_where_reader_options_are_listed(command: str) -> None:
    text = sciformer(command, "--help")
    examples = [line.strip() for line in text.splitlines() if line.strip().startswith(f"sciformer {command} ")]
    assert "Examples:" in text and len(examples) == 2
    assert all(line.endswith("\\") for line in examples)  # shell continuation lines, kept as written
    assert "sciformer readers DOMAIN" in text


def test_models_table_keeps_every_path_whole() -> None:
    paths = [row["path"] for row in json.loads(sciformer("models", "--json"))]
    cells = [line.split("│")[PATH_COLUMN].strip() for line in sciformer("models").splitlines() if line.startswith("│")]
    folded = "".join(cells)
    assert paths and all(path in folded for path in paths)
