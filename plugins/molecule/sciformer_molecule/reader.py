"""Readers of molecule files: CSV / TSV tables of SMILES, `.smi` files, and SDF (MOL blocks with properties).

Records carry the SMILES string or the whole MOL block as `data`, so the coordinates of an SDF entry
reach the featurizer, which uses 3D ones by default. The SDF option `geometry=embed` hands the block
over as `Reembed(block)` instead: its coordinates are ignored and the molecule is embedded as a SMILES
would be. Readers never parse chemistry: an unparsable molecule becomes a bad record at tokenization,
with its reason, and the rest of the file goes on. A line, row or SDF entry holding bytes that are not
UTF-8 is yielded as a bad record naming the byte.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciformer.errors import ConfigError
from sciformer.reader_options import table_options
from sciformer.reading import column_option, not_utf8, open_text, readable, table_rows
from sciformer.records import Record

SDF_END = "$$$$"
GEOMETRY_SOURCES = ("input", "embed")
TABLE_OPTIONS = table_options("smiles")
SDF_OPTIONS = {
    "id_column": "SD property of record ids (default: the model's id property where an entry has it, else the title line)",
    "target_column": "SD property of targets (default: the model's target property where an entry has it)",
    "geometry": "input (default: 3D coordinates of the file are used; 2D blocks are embedded) or embed (every molecule re-embedded)",
}


@dataclass(frozen=True)
class Reembed:
    """A MOL block whose coordinates are ignored: the molecule is embedded as the model's geometry says."""

    block: str


def read_table(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Rows of a CSV / TSV file: `data_column` (default `smiles`), optional `target_column` and `id_column` (default `id` when present)."""
    for record, _ in table_rows(path, options, default_data_column="smiles"):
        yield record


def read_smi(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """A `.smi` file: `SMILES [name]` per line; the id is the name or the line number. Lines starting with
    `#`, and a first line whose first word is `smiles` (a title line, as RDKit's `titleLine` reads), are skipped."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.split(maxsplit=1)
            if not parts or parts[0].startswith("#") or (number == 1 and parts[0].lstrip("\ufeff").lower() == "smiles"):
                continue
            record_id = readable(parts[1].strip()) if len(parts) > 1 else str(number)
            yield Record(id=record_id, data=parts[0], error=not_utf8(line, f"line {number:,}"))


def read_sdf(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """An SDF file: each MOL block is a record; `id_column` / `target_column` name SD properties, which
    every entry must have when the user names them (the model's are used where an entry has them).

    The id defaults to the title line, or the block's position (from 1) when that is blank. `geometry`
    says whether the file's coordinates are used (`input`, the default) or ignored (`embed`).
    """
    geometry = options.get("geometry") or "input"
    if geometry not in GEOMETRY_SOURCES:
        raise ConfigError(f"reader option geometry must be one of {list(GEOMETRY_SOURCES)}, got {geometry!r}")
    with open_text(path) as handle:
        lines: list[str] = []
        number = 0
        for line in handle:
            if line.strip() != SDF_END:
                lines.append(line)
                continue
            number += 1
            yield _sdf_record(lines, number, options, geometry)
            lines = []
        if any(line.strip() for line in lines):
            number += 1
            yield _sdf_record(lines, number, options, geometry)


def _sdf_record(lines: list[str], number: int, options: Mapping[str, Any], geometry: str) -> Record:
    """One SDF entry: the MOL block (up to `M  END`) and its `> <name>` properties."""
    end = next((i for i, line in enumerate(lines) if line.startswith("M  END")), None)
    title = readable(lines[0].strip()) if lines else ""
    if end is None:
        return Record(id=title or str(number), data="", error="SDF entry has no 'M  END' line")
    properties = _sd_properties(lines[end + 1 :])
    id_column = column_option(options, "id_column", properties)
    target_column = column_option(options, "target_column", properties)
    record_id = readable(properties.get(id_column, "")) if id_column else title
    error = next((p for i, line in enumerate(lines, start=1) if (p := not_utf8(line, f"line {i} of the entry"))), None)
    if error is None and id_column and id_column not in properties:
        error = f"SD property {id_column!r} is missing"
    target = properties.get(target_column) if target_column else None
    if error is None and target_column and target is None:
        error = f"SD property {target_column!r} is missing"
    block = "".join(lines[: end + 1])
    return Record(id=record_id or str(number), data=Reembed(block) if geometry == "embed" else block, target=target, error=error)


def _sd_properties(lines: list[str]) -> dict[str, str]:
    """`> <name>` headers followed by value lines, up to a blank line."""
    properties: dict[str, str] = {}
    name = None
    values: list[str] = []
    for line in [*lines, "\n"]:
        text = line.rstrip("\r\n")
        if text.startswith(">") and "<" in text and ">" in text[text.index("<") :]:
            name = text[text.index("<") + 1 : text.index(">", text.index("<"))]
            values = []
        elif name is not None and not text.strip():
            properties[name] = "\n".join(values)
            name = None
        elif name is not None:
            values.append(text)
    return properties
