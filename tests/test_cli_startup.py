"""Listing commands stay light: no torch and no plugin's heavy libraries until a command needs them."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import click
from click.testing import CliRunner
from sciformer.cli.lazy import LazyCommand
from sciformer.lazy import LazyFunction

HEAVY = ("torch", "numpy", "scipy", "h5py", "rdkit", "PIL", "soundfile", "matplotlib", "xarray", "pandas")
LISTINGS = (["--help"], ["models", "--json"], ["models"], ["plugins"], ["plugins", "--json"], ["import", "--list"])

PROBE = """
import json, sys
from sciformer.cli.main import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit as stop:
        assert not stop.code, (argv, stop.code)
print(json.dumps(sorted(name for name in json.loads(sys.argv[2]) if name in sys.modules)), file=sys.stderr)
"""


def test_listing_commands_import_no_heavy_library() -> None:
    """Every installed plugin is loaded and answers its discovery hooks, in a fresh process."""
    command = [sys.executable, "-c", PROBE, json.dumps(LISTINGS), json.dumps(HEAVY)]
    probe = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "mat-esol-small" in probe.stdout and '"error"' not in probe.stdout  # every plugin loaded, none failed
    assert json.loads(probe.stderr.splitlines()[-1]) == []


def test_lazy_function_imports_on_call_and_pickles_by_name() -> None:
    lazy = LazyFunction("json:dumps")
    assert lazy([1]) == "[1]"
    copy = pickle.loads(pickle.dumps(lazy))
    assert copy.target == "json:dumps" and copy({"a": 1}) == '{"a": 1}'


def test_lazy_command_is_listed_by_its_help_and_runs_the_real_group() -> None:
    @click.group()
    def root() -> None:
        """Root."""

    root.add_command(LazyCommand("tools", f"{__name__}:TOOLS", "Tools, loaded when run."))
    listing = CliRunner().invoke(root, ["--help"])
    assert "Tools, loaded when run." in listing.output
    result = CliRunner().invoke(root, ["tools", "hello", "--name", "lazy"])
    assert result.exit_code == 0 and result.output == "hello lazy\n"
    assert "hello" in CliRunner().invoke(root, ["tools", "--help"]).output


@click.group()
def TOOLS() -> None:
    """The real group behind the lazy command."""


@TOOLS.command()
@click.option("--name", required=True)
def hello(name: str) -> None:
    """Greet."""
    click.echo(f"hello {name}")
