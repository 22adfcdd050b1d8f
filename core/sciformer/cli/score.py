"""`sciformer score`: the main job, from the command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from sciformer.cli.helpers import host_of, parse_options

STOPPED_EXIT_CODE = 3  # `sciformer score` stopped early; its file marks the unscored records status 2


@click.command()
@click.option("--model", required=True, help="Checkpoint directory or shipped model name.")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path), help="Records to score (file or folder; - reads standard input).")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="File to write, format by suffix: .h5 / .hdf5, .csv, .tsv, .parquet or a plugin's; - writes CSV to standard output.")
@click.option("--format", "input_format", default=None, metavar="SUFFIX", help="Format of standard input: fasta, smi, txt, csv, ... (default: FASTA when it starts with '>', else one record per line).")
@click.option("--dataset", default=None, help="HDF5 dataset holding the records.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Reader option, e.g. data_column=smiles.")
@click.option("--outputs", default=None, help="Comma-separated outputs (default: every sequence-level one; tables leave out embedding and logits), e.g. embedding,token_embeddings.")
@click.option("--batch-tokens", default=None, type=click.IntRange(min=1), help="Token budget per batch (default: 4096 on the CPU, 16384 on CUDA).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "int8"]), default="float32", show_default=True,
              help="bfloat16: autocast; int8: dynamic INT8 Linear layers of the blocks, CPU only")
@click.option("--workers", default=None, type=click.IntRange(min=0), help="Tokenizer processes (default: 0 below four cores, else 2).")
@click.option("--chunk-records", default=1024, type=click.IntRange(min=1), show_default=True, help="Records read, tokenized and written at a time.")
@click.option("--resume", is_flag=True, help="Continue a stopped run from its last complete chunk.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--time-limit", type=click.FloatRange(min=0), default=None, metavar="SECONDS", help="Stop cleanly after this long (checked between chunks).")
@click.pass_context
def score(
    ctx: click.Context, model: str, input_path: Path, output: Path, input_format: str | None, dataset: str | None, options: tuple[str, ...], outputs: str | None,
    batch_tokens: int | None, device: str, dtype: str, workers: int | None, chunk_records: int, resume: bool, overwrite: bool, time_limit: float | None,
) -> None:
    """Score every record of INPUT with a model into OUTPUT: HDF5 (embeddings, predictions, status), or by
    its suffix CSV / TSV / Parquet with class names; `-` reads standard input or writes CSV to standard output.

    Under `torchrun --nproc-per-node N -m sciformer score ...` the records are sharded across the
    processes and the result is one file, identical to a single-process run. On SIGTERM, SIGINT or
    --time-limit the run stops early, writes the file with unscored records as status 2 and exits
    with status 3; `--resume` finishes it. The summary line goes to standard error when the table
    goes to standard output.

    \b
    Examples:
      sciformer score --model esm2-deeploc-small \\
          --input plugins/protein/data/deeploc_sample.csv --output locations.csv
      sciformer score --model afno-era5-uk-t2m --option leads=1,6 \\
          --input plugins/weather/data/era5_t2m_uk_48h.h5 --output forecasts.h5

    `sciformer readers DOMAIN` lists the --option keys each reader of a domain accepts.
    """
    from contextlib import nullcontext

    from sciformer.checkpoint import read_checkpoint_info, resolve_model
    from sciformer.errors import ConfigError
    from sciformer.scoring import score_to
    from sciformer.scoring.encoding import default_workers
    from sciformer.scoring.stdin import spooled_stdin

    host = host_of(ctx)
    from_stdin, to_stdout = str(input_path) == "-", str(output) == "-"
    if input_format and not from_stdin:
        raise ConfigError("--format names the format of standard input (--input -); a file's format comes from its suffix")
    if resume and from_stdin:
        raise ConfigError("--resume cannot continue a run that read standard input; score a file to be able to resume")
    reader_options = parse_options(options)
    if dataset:
        reader_options["dataset"] = dataset
    if from_stdin:
        source = spooled_stdin(sys.stdin.buffer, host, read_checkpoint_info(resolve_model(model, host)).config.domain, input_format)
    else:
        source = nullcontext(input_path)
    with source as records:
        summary = score_to(
            model, records, sys.stdout if to_stdout else output, host, options=reader_options, outputs=outputs.split(",") if outputs else None,
            batch_tokens=batch_tokens, device=device, dtype=dtype, workers=default_workers() if workers is None else workers,
            resume=resume, overwrite=overwrite, progress=sys.stderr.isatty() and not to_stdout, chunk_records=chunk_records, time_limit=time_limit,
        )
    rank_zero = os.environ.get("RANK", "0") == "0"
    notes = summary.agreement_text()
    agreement = f"; {notes}" if notes else ""
    if summary.up_to_date:
        if rank_zero:
            click.echo(f"{summary.output} is already complete ({summary.scored} scored, {summary.bad} bad): nothing to do{agreement}")
        return
    if rank_zero:
        click.echo(
            f"scored {summary.scored}{f' ({summary.noted} with a note in error)' if summary.noted else ''}, bad {summary.bad} -> {'standard output' if to_stdout else summary.output}; this run processed {summary.processed} in {summary.seconds:.2f} s "
            f"({summary.records_per_second:,.1f} records/s, {summary.tokens / max(summary.seconds, 1e-9):,.0f} tokens/s, padding {summary.padding_fraction:.1%}){agreement}",
            err=to_stdout,
        )
    if summary.stopped:
        if rank_zero:
            click.echo(f"stopped early ({summary.stopped}): {summary.pending} record(s) not yet scored (status 2); rerun with --resume to finish", err=True)
        ctx.exit(STOPPED_EXIT_CODE)
