"""Every shell command and Python snippet in README.md, docs/ and the plugin READMEs runs verbatim.

Each document runs in a temporary folder laid out like a fresh clone (the working tree's files copied
in, the virtual environment on PATH), its blocks in order, so a later block may use what an earlier
one wrote. Fenced blocks tagged `bash` or `python` run; `text` blocks are
synopses and output. An HTML comment just before a fence adjusts that block, visibly in the source:

- `<!-- docs-test: skip: REASON -->` skips it (reported as a warning with the reason, never silently);
- `<!-- docs-test: set KEY=VALUE -->` adds `--set KEY=VALUE` to each `sciformer train` in it (a long
  run made short);
- `<!-- docs-test: setup: COMMAND -->` runs a shell command before it (for example, writing an input).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "plugins").glob("*/README.md"))]
RUNNABLE = {"bash", "python"}
FENCE = re.compile(r"((?:<!-- docs-test: [^\n]*-->\n)*)```(\w*)\n(.*?)```", re.DOTALL)
DIRECTIVE = re.compile(r"<!-- docs-test: (skip|set|setup):? (.*?) -->")
BLOCK_TIMEOUT = 900
# Commands a test must not run: they would change the environment the tests run in, or run the tests.
NEVER_RUN = {
    r"\bpip install\b": "installing would change the environment every test runs in",
    r"\bmake test\b": "it would run the test suite from inside it",
}


@dataclass
class Block:
    """One fenced block of a document with its docs-test directives."""

    language: str
    code: str
    line: int
    skip: str | None = None
    sets: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)


class DocsExampleSkipped(UserWarning):
    """A documented example that the docs test does not run, with the reason given in the document."""


def blocks(document: Path) -> list[Block]:
    """The fenced blocks of `document`, in order."""
    text = document.read_text()
    found = []
    for match in FENCE.finditer(text):
        block = Block(match.group(2), match.group(3), text.count("\n", 0, match.start(2)) + 1)
        for kind, value in DIRECTIVE.findall(match.group(1)):
            if kind == "skip":
                block.skip = value
            elif kind == "set":
                block.sets.append(value)
            else:
                block.setup.append(value)
        found.append(block)
    return found


def clone_layout(folder: Path) -> None:
    """Copy the working tree's files (tracked, and new ones git does not ignore) into `folder`, as a
    fresh clone would have them, and link the virtual environment; the examples never write into
    the repository itself."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    (folder / ".venv").symlink_to(ROOT / ".venv")


def shell(code: str, sets: list[str]) -> str:
    """A block as a bash script that stops at the first failing command; `sets` shorten training runs."""
    if sets:
        extra = " ".join(f"--set {value}" for value in sets)
        code = re.sub(r"(sciformer train \S+)", rf"\1 {extra}", code)
    return "set -euo pipefail\n" + code


def run_block(block: Block, folder: Path, environment: dict[str, str], document: Path) -> None:
    where = f"{document.relative_to(ROOT)}:{block.line}"
    for pattern, why in NEVER_RUN.items():
        assert not re.search(pattern, block.code), f"{where}: {why}; give the block a `docs-test: skip` reason"
    for command in block.setup:
        subprocess.run(["bash", "-c", command], cwd=folder, env=environment, check=True, timeout=BLOCK_TIMEOUT)
    if block.language == "python":
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-c", shell(block.code, block.sets)]
    completed = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
    assert completed.returncode == 0, f"{where} failed (exit {completed.returncode}):\n{block.code}\n--- stderr ---\n{completed.stderr[-3000:]}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_example_runs(document: Path, tmp_path: Path) -> None:
    runnable = [block for block in blocks(document) if block.language in RUNNABLE]
    if not runnable:
        pytest.skip(f"{document.relative_to(ROOT)} has no runnable example")
    clone_layout(tmp_path)
    environment = {**os.environ, "PATH": f"{ROOT / '.venv/bin'}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    if any(re.search(r"^make ", block.code, re.MULTILINE) for block in runnable if not block.skip):
        stale = subprocess.run(["make", "-q", "setup"], cwd=tmp_path, env=environment, capture_output=True)
        assert stale.returncode == 0, "the virtual environment is older than the project files: run `make setup` first"
    for block in runnable:
        if block.skip:
            warnings.warn(f"{document.relative_to(ROOT)}:{block.line} not run: {block.skip}", DocsExampleSkipped, stacklevel=1)
            continue
        run_block(block, tmp_path, environment, document)


def test_every_fenced_block_is_tagged() -> None:
    """A block without a language could be a command nobody runs: tag it `bash`, `python`, `text` or `yaml`."""
    untagged = [f"{document.relative_to(ROOT)}:{block.line}" for document in DOCUMENTS for block in blocks(document) if not block.language]
    assert not untagged, f"untagged fenced blocks: {untagged}"
