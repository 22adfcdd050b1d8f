"""A failing plugin is disabled and reported, and every other plugin keeps working: the real CLI, with
a fake distribution installed beside the repository's plugins (a module and its `.dist-info`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "core/sciformer/builtin/text/data/orders.txt"
PROTEINS = ROOT / "plugins/protein/data/deeploc_sample.fasta"
# Appends the fake distribution's folder to sys.path, after site-packages, so that it is found after
# the installed plugins (PYTHONPATH would put it first), then runs the command line.
LAUNCH = "import sys; sys.path.append(sys.argv.pop(1)); from sciformer.cli.main import main; main()"
SECOND_PROTEIN_DOMAIN = """
    import sciformer
    from sciformer.builtin.text import TextDomain

    class SecondProtein(TextDomain):
        name = "protein"
        summary = "a second protein domain"

    @sciformer.hookimpl
    def sciformer_domains():
        return [SecondProtein()]
"""
FAILING = {
    "hook-raises": (
        """
        import sciformer

        @sciformer.hookimpl
        def sciformer_domains():
            raise RuntimeError("the domain table is missing")
        """,
        "its domains failed to load (RuntimeError: the domain table is missing)",
    ),
    "duplicate-domain": (SECOND_PROTEIN_DOMAIN, "declares domain 'protein', already declared by plugin 'protein'"),
    "exit-at-import": ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
    "import-error": ("raise ImportError('needs a missing library')\n", "ImportError: needs a missing library"),
}


def install(folder: Path, source: str) -> Path:
    """A folder holding the distribution `fakeplugin` 0.1, whose entry point is the module `source`."""
    info = folder / "fakeplugin-0.1.dist-info"
    info.mkdir(parents=True)
    (folder / "fakeplugin.py").write_text(textwrap.dedent(source))
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[sciformer]\nfakeplugin = fakeplugin\n")
    return folder


def sciformer(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `sciformer ARGS` with every installed plugin and the fake one found after them."""
    environment = {key: value for key, value in os.environ.items() if key != "SCIFORMER_PLUGINS"}
    command = [sys.executable, "-c", LAUNCH, str(site), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**environment, "OMP_NUM_THREADS": "1"})


def score(site: Path, model: str, records: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `sciformer score` of `records` with `model` into `cwd`."""
    return sciformer(site, "score", "--model", model, "--input", str(records), "--output", str(cwd / f"{model}.h5"), cwd=cwd)


@pytest.mark.parametrize("source, reason", FAILING.values(), ids=FAILING.keys())
def test_a_failing_plugin_is_disabled_and_the_others_keep_working(tmp_path: Path, source: str, reason: str) -> None:
    site = install(tmp_path / "site", source)
    warning = [f"plugin 'fakeplugin': {reason}; the plugin is disabled"]
    listed = sciformer(site, "plugins", "--json", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stderr.splitlines() == warning, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["fakeplugin"] == {"name": "fakeplugin", "error": reason}
    assert rows["protein"]["domains"] == ["protein"] and rows["text"]["domains"] == ["text"]
    for model, records in (("text-who-ordered", ORDERS), ("esm2-deeploc-small", PROTEINS)):
        scored = score(site, model, records, tmp_path)
        assert scored.returncode == 0 and scored.stderr.splitlines() == warning, scored.stderr


def test_of_two_plugins_declaring_a_domain_the_later_one_is_disabled(tmp_path: Path) -> None:
    site = install(tmp_path / "site", SECOND_PROTEIN_DOMAIN)
    environment = {key: value for key, value in os.environ.items() if key != "SCIFORMER_PLUGINS"}
    environment["PYTHONPATH"] = os.pathsep.join([str(site), *environment.get("PYTHONPATH", "").split(os.pathsep)])
    listed = subprocess.run(  # on PYTHONPATH the fake distribution is found, and loaded, first
        [sys.executable, "-m", "sciformer", "plugins", "--json"], cwd=tmp_path, capture_output=True, text=True, env=environment
    )
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["protein"] == {"name": "protein", "error": "declares domain 'protein', already declared by plugin 'fakeplugin'"}
    assert rows["fakeplugin"]["domains"] == ["protein"]


def test_a_plugin_failing_while_a_run_is_set_up_fails_that_run_in_one_line(tmp_path: Path) -> None:
    site = install(tmp_path / "site", """
        import sciformer

        @sciformer.hookimpl
        def sciformer_attention_biases(config):
            if config.domain == "protein":
                raise RuntimeError("no bias for this model")
    """)
    failed = score(site, "esm2-deeploc-small", PROTEINS, tmp_path)
    assert failed.returncode == 1
    message = "Error: plugin 'fakeplugin' failed in sciformer_attention_biases: RuntimeError: no bias for this model"
    assert failed.stderr.splitlines() == [message], failed.stderr
    scored = score(site, "text-who-ordered", ORDERS, tmp_path)
    assert scored.returncode == 0 and scored.stderr == "", scored.stderr
