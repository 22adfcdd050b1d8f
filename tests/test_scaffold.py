"""`sciformer new-plugin` writes a plugin that installs with `pip install -e` and passes the harness as generated."""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.scaffold import new_plugin
from sciformer.testing import DomainConformance


def test_generated_plugin_installs_and_passes_the_harness(tmp_path: Path) -> None:
    host = PluginHost(entry_points=False)
    result = CliRunner().invoke(build_cli(host), ["new-plugin", "glyphs", "--dir", str(tmp_path)], obj=host)
    assert result.exit_code == 0, result.output
    plugin = tmp_path / "glyphs"
    assert (plugin / "sciformer_glyphs" / "__init__.py").is_file() and (plugin / "tests" / "test_sciformer_glyphs_plugin.py").is_file()
    prefix = tmp_path / "prefix"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--prefix", str(prefix), "-e", str(plugin)]
    completed = subprocess.run(install, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    site = sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)})
    # The editable install lives in its own prefix, so the shared environment never sees it.
    report = tmp_path / "report.xml"
    options = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", f"--junitxml={report}", str(plugin / "tests")]
    run_tests = f"import site, sys, pytest; site.addsitedir({site!r}); sys.exit(pytest.main({options!r}))"
    completed = subprocess.run([sys.executable, "-c", run_tests], capture_output=True, text=True, cwd=plugin)
    assert completed.returncode == 0, completed.stdout[-3000:]
    outcomes = {case.get("name"): [c.tag for c in case if c.tag in ("failure", "error", "skipped")] for case in ElementTree.parse(report).iter("testcase")}
    assert not any(outcomes.values()), outcomes
    assert {name.split("[")[0] for name in outcomes} == checks_defined(plugin / "tests"), "every check of the harness and of the template ran"


def checks_defined(folder: Path) -> set[str]:
    """The test functions a generated plugin's tests define, and those its TestConformance inherits from the harness."""
    defined = {node.name for path in folder.glob("test_*.py") for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)}
    return {name for name in defined | set(dir(DomainConformance)) if name.startswith("test")}


def test_bad_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lower-case"):
        new_plugin("Bad-Name", tmp_path)
    new_plugin("twice", tmp_path)
    with pytest.raises(Exception, match="exists"):
        new_plugin("twice", tmp_path)
