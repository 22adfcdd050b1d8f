"""Where a scoring run writes: HDF5 as it is, other formats through an HDF5 file beside them.

The pipeline always writes HDF5, with its lock, chunk folder, manifest and `--resume`. For an output
in another format (`OUT.csv`, `OUT.tsv`, `OUT.parquet`, a plugin's suffix) it writes the hidden
sibling `.OUT.csv.h5`: the lock (`.OUT.csv.h5.lock`), the chunks (`.OUT.csv.h5.chunks/`) and the
manifest are those of the sibling. When the pipeline is done, the exporter of the suffix writes
`OUT.csv` (as `.OUT.partial.csv`, renamed when complete) while holding the same lock, and the sibling
is removed. A run stopped early exports what it has (rows not reached have status 2) and keeps the
sibling and its chunks, so `--resume` with the same `--output OUT.csv` finishes it; after a crash
between the join and the export, `--resume` finds the sibling finished and only exports it. A
finished `OUT.csv` keeps no manifest to compare, so `--resume` over it is refused. Standard output
receives CSV, exported from an HDF5 file in a temporary folder (no resume).

Formats other than HDF5 leave the embedding and the logits out unless `outputs` names them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from sciformer.data.results import ChunkStore, writing
from sciformer.errors import ConfigError, OutputError, PluginError, SciformerError
from sciformer.export import ResultExporter, exporter_for
from sciformer.export.delimited import write_csv
from sciformer.plugins import PluginHost
from sciformer.scoring.lock import OutputLock
from sciformer.scoring.pipeline import ScoreSummary, score
from sciformer.world import World

log = logging.getLogger(__name__)

TABLE_UNLESS_ASKED = ("embedding", "logits")  # probabilities say what logits say, in a form people read
STANDARD_OUTPUT = Path("-")


def score_to(
    model: str | Path, input_path: str | Path, output: str | Path | TextIO, host: PluginHost, *,
    outputs: Sequence[str] | None = None, resume: bool = False, overwrite: bool = False, **keywords: Any,
) -> ScoreSummary:
    """Score `input_path` into `output` in the format its suffix names (.h5 / .hdf5, .csv, .tsv,
    .parquet, or a plugin's); a text stream receives CSV. `keywords` go to `sciformer.scoring.score`."""
    if not isinstance(output, (str, Path)):
        return _score_to_stream(model, input_path, output, host, outputs=outputs, resume=resume, **keywords)
    output = Path(output)
    refuse_input_as_output(Path(input_path), output)
    exporter = exporter_for(host, output)
    if exporter is None:
        return score(model, input_path, output, host, outputs=outputs, resume=resume, overwrite=overwrite, **keywords)
    working = working_file(output)
    _check_exported(output, working, exporter, resume, overwrite)
    try:
        summary = score(model, input_path, working, host, outputs=outputs, resume=resume, overwrite=overwrite, unless_asked=TABLE_UNLESS_ASKED, **keywords)
    except OutputError as error:  # the hidden working file is the user's output, as far as they know
        raise OutputError(str(error).replace(str(working), str(output))) from None
    if World.from_environment().is_main:
        with OutputLock(working):
            if not working.is_file():
                raise OutputError(f"{working} was removed by another run before it could be written as {output}")
            export(exporter, working, output)
            if summary.stopped is None:
                working.unlink()
    return dataclasses.replace(summary, output=output)


def refuse_input_as_output(input_path: Path, output: Path) -> None:
    """OutputError where the output would replace the input (the same file, by any path or link)."""
    try:
        same = output.samefile(input_path)
    except OSError:  # either does not exist (yet)
        same = False
    if same:
        raise OutputError(f"output {output} is the input file; scoring into it would replace the records, so give another output name")


def working_file(output: Path) -> Path:
    """The hidden HDF5 file beside an output in another format: `.OUT.csv.h5`."""
    return output.with_name(f".{output.name}.h5")


def export(exporter: ResultExporter, results: Path, target: Path) -> None:
    """Write `target` from the HDF5 file `results` under a temporary name with the same suffix, then
    rename it; a failed write leaves nothing under either name and keeps `results`."""
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")
    try:
        with writing(target, f"the {exporter.name} file", partial):
            exporter.write(results, partial)
            os.replace(partial, target)
    except SciformerError:
        raise
    except Exception as error:  # an exporter's bug is one line naming it, like a failing plugin hook
        raise PluginError(f"the {exporter.name} exporter failed writing {target}: {type(error).__name__}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)


def _check_exported(output: Path, working: Path, exporter: ResultExporter, resume: bool, overwrite: bool) -> None:
    """Refuse to replace a finished output without --overwrite; the sibling's own state is the pipeline's to judge."""
    if overwrite or not output.exists() or working.exists() or ChunkStore(working).folder.exists():
        return
    if resume:
        raise OutputError(f"cannot resume {output}: it is finished, and a {exporter.name} file keeps no run manifest to compare; pass --overwrite to score again")
    raise OutputError(f"output {output} exists; pass --overwrite to replace it")


def _score_to_stream(model: str | Path, input_path: str | Path, stream: TextIO, host: PluginHost, *, outputs: Sequence[str] | None, resume: bool, **keywords: Any) -> ScoreSummary:
    """Score into a temporary HDF5 file and write it to `stream` as CSV."""
    if resume:
        raise ConfigError("--resume needs an output file: a run that writes standard output cannot be continued")
    if World.from_environment().size > 1:
        raise ConfigError("standard output cannot be written by several processes; give an --output file")
    with tempfile.TemporaryDirectory(prefix="sciformer-") as folder:
        results = Path(folder) / "results.h5"
        summary = score(model, input_path, results, host, outputs=outputs, unless_asked=TABLE_UNLESS_ASKED, **keywords)
        try:
            write_csv(results, stream)
            stream.flush()
        except BrokenPipeError:
            log.info("the reader of standard output stopped early; the rest of the table was not written")
            _discard(stream)
    return dataclasses.replace(summary, output=STANDARD_OUTPUT)


def _discard(stream: TextIO) -> None:
    """Point `stream` at /dev/null, so that what is still buffered raises no second error at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)
