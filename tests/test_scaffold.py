"""`sciformer new-plugin` writes a plugin that installs with `pip install -e` and passes the harness as generated."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.scaffold import new_plugin


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
    run_tests = f"import site, sys, pytest; site.addsitedir({site!r}); sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:xdist', {str(plugin / 'tests')!r}]))"
    completed = subprocess.run([sys.executable, "-c", run_tests], capture_output=True, text=True, cwd=plugin)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "13 passed" in completed.stdout


def test_bad_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lower-case"):
        new_plugin("Bad-Name", tmp_path)
    new_plugin("twice", tmp_path)
    with pytest.raises(Exception, match="exists"):
        new_plugin("twice", tmp_path)
