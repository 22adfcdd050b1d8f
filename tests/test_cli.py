"""The command line: listings as JSON, training, scoring, attention export, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import sciformer
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.plugins import PluginHost


@pytest.fixture
def run():
    """Invoke the CLI in-process with the installed plugins; returns the click Result."""
    host = PluginHost()
    group = build_cli(host)

    def invoke(*args: str):
        return CliRunner().invoke(group, list(args), obj=host, catch_exceptions=False)

    return invoke


def test_plugins_registry_models_as_json(run) -> None:
    plugins = json.loads(run("plugins", "--json").output)
    text = next(p for p in plugins if p["name"] == "text")
    assert text["builtin"] and "sciformer_domains" in text["hooks"] and text["domains"] == ["text"]
    registry = {row["name"]: row for row in json.loads(run("registry", "--json").output)}
    assert registry["text"]["installed"] is True
    models = {row["name"]: row for row in json.loads(run("models", "--json").output)}
    assert models["text-who-ordered"]["domain"] == "text"


def test_train_score_and_attention_from_the_command_line(run, write_recipe, tmp_path) -> None:
    recipe = write_recipe(tmp_path, training={"max_steps": 5})
    result = run("train", str(recipe), "--set", "training.lr=0.02")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["steps"] == 5
    inputs = tmp_path / "in.txt"
    inputs.write_text("<start> man ordered\n<start> woman ordered the beef\n")
    result = run("score", "--model", "text-who-ordered", "--input", str(inputs), "--output", str(tmp_path / "out.h5"))
    assert result.exit_code == 0 and "scored 2, bad 0" in result.output
    with h5py.File(tmp_path / "out.h5") as results:
        assert results["embedding"].shape == (2, 32)
    result = run("attention", "--model", "text-who-ordered", "--record", "<start> man ordered the", "--out", str(tmp_path / "maps"))
    assert result.exit_code == 0, result.output
    maps = np.load(tmp_path / "maps" / "record-1.npy")
    assert maps.shape == (1, 1, 4, 4) and np.allclose(maps.sum(-1), 1.0, atol=1e-5)
    png = (tmp_path / "maps" / "record-1.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_a_plugin_with_broken_commands_does_not_break_the_cli(caplog) -> None:
    class Broken:
        @sciformer.hookimpl
        def sciformer_cli_commands(self):
            raise ModuleNotFoundError("No module named 'missing_dependency'")

    host = PluginHost(entry_points=False)
    host.register(Broken(), "broken-commands")
    group = build_cli(host)
    assert "plugin 'broken-commands': its commands failed to load" in caplog.text
    result = CliRunner().invoke(group, ["models", "--json"], obj=host)
    assert result.exit_code == 0 and "text-who-ordered" in result.output


def test_import_lists_importers(run) -> None:
    result = run("import", "--list")
    assert result.exit_code == 0 and "weight importers" in result.output
    result = run("import", "no-such-format", "x", "--out", "y")
    assert result.exit_code != 0 and "unknown import format 'no-such-format'" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", "--model", "missing-model", "--input", "x.txt", "--output", "o.h5"], "neither a checkpoint directory nor a shipped model"),
        (["train", "no-recipe.yaml"], "recipe not found: no-recipe.yaml"),
        (["score", "--model", "text-who-ordered", "--input", "absent.txt", "--output", "o.h5"], "input not found: absent.txt"),
    ],
)
def test_user_mistakes_print_one_line_and_fail(tmp_path, args, message) -> None:
    environment = {**os.environ, "SCIFORMER_PLUGINS": ""}  # the core's behaviour, whatever else is installed
    completed = subprocess.run([sys.executable, "-m", "sciformer", *args], cwd=tmp_path, capture_output=True, text=True, env=environment)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], completed.stderr
