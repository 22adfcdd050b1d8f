"""Scoring pipeline benchmark: `sciformer score` end to end against the model alone on the same batches,
peak resident memory at 1x, 10x and 100x the records, and the padding fraction of the batches.

    .venv/bin/python benchmarks/scoring_pipeline.py --model esm2-deeploc-small --input plugins/protein/data/deeploc_sample.csv

`--memory-copies 1667` scores 100,020 records (the 60-record sample repeated) in one subprocess;
`--model-alone-records 100020` then runs the model alone over as many records (its batches repeated), so
the two rates cover the same length of run: this machine's own rate drifts by 15% over minutes.
`--rss-every 10` samples each memory run's resident memory, to tell growth over the run from a one-off peak.

Targets: the pipeline loses at most 10% of the model-alone throughput; peak memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model
from sciformer.data.budget import padding_fraction, token_budget_batches
from sciformer.inference import DEFAULT_BATCH_TOKENS
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score


def model_alone(model: str, records: list, batch_tokens: int, host: PluginHost, total: int | None = None) -> tuple[float, float]:
    """Records/s of tokenization-free forward passes over the pipeline's own batches (repeated until `total`
    records when given), and their padding."""
    model_dir = resolve_model(model, host)
    info = read_checkpoint_info(model_dir)
    net = load_checkpoint(model_dir, host)
    tokenizer = host.tokenizer(info.config)
    encoded = [tokenizer.encode(r) for r in records]
    lengths = [tokenizer.num_tokens(e) for e in encoded]
    batches = [tokenizer.collate([encoded[i] for i in rows], [records[i].id for i in rows]) for rows in token_budget_batches(lengths, batch_tokens)]
    with torch.inference_mode():
        net(batches[0])  # warm-up
        done, start = 0, time.perf_counter()
        while done < (total or len(records)):
            for batch in batches:
                net(batch)
                done += batch.size
        seconds = time.perf_counter() - start
    return done / seconds, padding_fraction(token_budget_batches(lengths, batch_tokens), lengths)


# Run in the scoring subprocess with --rss-every: its resident memory (MB), sampled to stderr by a daemon thread.
RSS_SAMPLER = (
    "import threading, time\n"
    "def sample():\n"
    "    while True:\n"
    "        time.sleep({every})\n"
    "        rss = next(line for line in open('/proc/self/status') if line.startswith('VmRSS'))\n"
    "        print(int(rss.split()[1]) / 1024, file=sys.stderr, flush=True)\n"
    "threading.Thread(target=sample, daemon=True).start()\n"
)


def peak_memory_mb(model: str, input_path: Path, output: Path, options: dict, rss_every: float | None = None) -> tuple[float, float, list[float]]:
    """Peak RSS (MB) and records/s of a scoring subprocess, and its RSS every `rss_every` seconds when given (Linux)."""
    code = (
        "import json, resource, sys\n"
        + (RSS_SAMPLER.format(every=rss_every) if rss_every else "")
        + "from sciformer.plugins import PluginHost; from sciformer.scoring import score\n"
        f"s = score({model!r}, {str(input_path)!r}, {str(output)!r}, PluginHost(), options={options!r}, overwrite=True)\n"
        "print(json.dumps([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, s.records_per_second]))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak, rate = json.loads(completed.stdout.strip().splitlines()[-1])
    samples = [float(line) for line in completed.stderr.splitlines() if line.replace(".", "", 1).isdigit()]
    return peak, rate, samples


def replicate(source: Path, target: Path, times: int) -> None:
    """A table (or text file) with the data rows of `source` repeated `times` times."""
    lines = source.read_text().splitlines()
    header, rows = (lines[:1], lines[1:]) if source.suffix in (".csv", ".tsv") else ([], lines)
    with open(target, "w") as handle:
        handle.write("\n".join(header + rows * times) + "\n")


def main() -> None:
    """Print the pipeline-vs-model ratio, the memory at three sizes and the padding fraction."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS["cpu"], help="token budget per batch (the score default on the CPU)")
    parser.add_argument("--copies", type=int, default=4, help="copies of the input for the throughput run")
    parser.add_argument(
        "--memory-copies", default="1,10,100", help="comma-separated copies of the input for the peak-memory runs (default 1,10,100)"
    )
    parser.add_argument("--model-alone-records", type=int, help="also time the model alone over this many records (its batches repeated)")
    parser.add_argument("--rss-every", type=float, help="also sample each memory run's resident memory every this many seconds (Linux)")
    args = parser.parse_args()
    host = PluginHost()
    info = read_checkpoint_info(resolve_model(args.model, host))
    options = dict(info.extra.get("reader_options", {}))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        base = folder / f"x{args.copies}{args.input.suffix}"
        replicate(args.input, base, args.copies)
        records = [r for r in read_records(host, info.config.domain, base, options) if not r.error]
        alone, padding = model_alone(args.model, records, args.batch_tokens, host)
        summary = score(args.model, base, folder / "out.h5", host, options=options, batch_tokens=args.batch_tokens, overwrite=True)
        pipeline = summary.records_per_second
        print(f"records: {len(records)}  model alone: {alone:,.1f} records/s  pipeline: {pipeline:,.1f} records/s  "
              f"ratio: {pipeline / alone:.3f} (lost {1 - pipeline / alone:.1%})  padding: {padding:.1%}")
        for times in (int(n) for n in args.memory_copies.split(",")):
            scaled = folder / f"x{times}{args.input.suffix}"
            replicate(args.input, scaled, times)
            memory, rate, samples = peak_memory_mb(args.model, scaled, folder / f"out{times}.h5", options, args.rss_every)
            print(f"{times:>4}x the input: peak RSS {memory:,.0f} MB, {rate:,.1f} records/s")
            if samples:
                quarter = len(samples) // 4
                print(f"      RSS over the run ({len(samples)} samples): first quarter {max(samples[:quarter] or samples):,.1f} MB at most, "
                      f"last quarter {max(samples[-quarter:] if quarter else samples):,.1f} MB at most")
        if args.model_alone_records:
            sustained, _ = model_alone(args.model, records, args.batch_tokens, host, args.model_alone_records)
            print(f"model alone over {args.model_alone_records:,} records: {sustained:,.1f} records/s")


if __name__ == "__main__":
    main()
