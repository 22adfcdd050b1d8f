"""Results in the formats people read: a finished HDF5 results file written as CSV, TSV, Parquet, or
a format a plugin adds through `sciformer_result_exporters`, chosen by the output's suffix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sciformer.errors import ConfigError

if TYPE_CHECKING:
    from sciformer.plugins import PluginHost

HDF5_SUFFIXES = (".h5", ".hdf5")


@dataclass(frozen=True)
class ResultExporter:
    """Writes a finished HDF5 results file in another format.

    `write(results, target)` reads the HDF5 file `results` (row i of every dataset is input record i,
    the root attributes hold provenance and summary) and writes `target`: a path, or an open text
    stream for a format that can be streamed (CSV to standard output). The host writes `target`
    under a temporary name with the same suffix and renames it when `write` returns.
    """

    name: str
    suffixes: tuple[str, ...]
    write: Callable[[Path, Path | TextIO], None]
    summary: str = ""


def core_exporters() -> list[ResultExporter]:
    """The formats the core writes itself."""
    from sciformer.export.delimited import write_csv, write_tsv
    from sciformer.export.parquet import write_parquet

    return [
        ResultExporter("csv", (".csv",), write_csv, "comma-separated, one row per record, one column per class or vector element"),
        ResultExporter("tsv", (".tsv",), write_tsv, "tab-separated, as CSV"),
        ResultExporter("parquet", (".parquet",), write_parquet, "typed columns; vectors as fixed-size lists; provenance in the schema metadata"),
    ]


def exporters(host: PluginHost) -> dict[str, ResultExporter]:
    """Exporters by suffix: the core's first, then each plugin's; the first to claim a suffix wins."""
    found = [*core_exporters(), *(exporter for _, answer in host.collect("sciformer_result_exporters") for exporter in answer or [])]
    by_suffix: dict[str, ResultExporter] = {}
    for exporter in found:
        for suffix in exporter.suffixes:
            by_suffix.setdefault(suffix.lower(), exporter)
    return by_suffix


def exporter_for(host: PluginHost, output: Path) -> ResultExporter | None:
    """The exporter of `output`'s suffix; None for HDF5 (and for a folder, which scoring refuses)."""
    suffix = output.suffix.lower()
    if suffix in HDF5_SUFFIXES or output.is_dir():
        return None
    found = exporters(host)
    if suffix not in found:
        accepted = ", ".join([*HDF5_SUFFIXES, *sorted(found)])
        raise ConfigError(f"cannot write {suffix or 'a suffix-less'} output {output}: accepted suffixes are {accepted}, or - for CSV on standard output")
    return found[suffix]
