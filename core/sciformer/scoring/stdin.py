"""Records from standard input (`--input -`), spooled to a temporary file before the run.

The pipeline reads its input more than once (counting for the progress bar, ids of unscored records)
and its manifest fingerprints the input, so standard input is first copied whole into a temporary
folder (`TMPDIR`) and scored as a file: the manifest then fingerprints the bytes that were read. The
format is `--format` (a suffix the domain's readers accept: fasta, smi, txt, csv, ...); without it,
FASTA when the first character is '>', else one record per line (.txt, or .smi for molecules).
"""

from __future__ import annotations

import codecs
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.world import World

LINE_SUFFIXES = (".txt", ".smi")  # one record per line, in the order tried
SNIFF_BYTES = 4096
SPOOL_BLOCK = 1 << 20


@contextmanager
def spooled_stdin(stream: BinaryIO, host: PluginHost, domain: str, format_name: str | None) -> Iterator[Path]:
    """A temporary file holding all of `stream`, named with the suffix of its format; removed on exit."""
    if World.from_environment().size > 1:
        raise ConfigError("standard input cannot be shared by several processes; give an --input file")
    accepted = sorted({suffix for reader in host.readers(domain) for suffix in reader.suffixes if suffix != "/"})
    if format_name is not None:
        stdin_suffix(format_name, None, domain, accepted)  # a wrong --format is refused before reading
    with tempfile.TemporaryDirectory(prefix="sciformer-stdin-") as folder:
        spool = Path(folder) / "stdin"
        with open(spool, "wb") as handle:
            shutil.copyfileobj(stream, handle, SPOOL_BLOCK)
        with open(spool, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        path = spool.with_suffix(stdin_suffix(format_name, head, domain, accepted))
        spool.rename(path)
        yield path


def stdin_suffix(format_name: str | None, head: bytes | None, domain: str, accepted: list[str]) -> str:
    """The file suffix standard input is read as: `format_name`, else guessed from its first bytes."""
    names = ", ".join(suffix.lstrip(".") for suffix in accepted)
    if format_name is not None:
        suffix = "." + format_name.lower().lstrip(".")
        if suffix not in accepted:
            raise ConfigError(f"--format {format_name} is not a format of domain {domain!r}; its formats: {names}")
        return suffix
    text = (head or b"").removeprefix(codecs.BOM_UTF8).lstrip()  # a byte-order mark is no character of the text
    guesses = (".fasta",) if text.startswith(b">") else LINE_SUFFIXES
    suffix = next((guess for guess in guesses if guess in accepted), None)
    if suffix is None:
        raise ConfigError(f"cannot tell the format of standard input for domain {domain!r}; give --format, one of: {names}")
    return suffix
