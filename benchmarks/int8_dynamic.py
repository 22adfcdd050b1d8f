"""`--dtype int8` (dynamic INT8 Linear layers) against float32 on ESM-2 8M shape, through `run_encoded`.

    .venv/bin/python benchmarks/int8_dynamic.py [--sequences 256] [--repeats 3] [--threads 1]

Random weights (320 dim, 6 layers, 20 heads, rotary, no head); the sequences are the real ones of
plugins/protein/data (80 distinct: DeepLoc and NetSurfP samples), repeated in order up to --sequences.
Best of --repeats; also the pooled-embedding cosine of int8 to float32.
"""

from __future__ import annotations

import argparse
import copy
import csv
import time
from pathlib import Path

import numpy as np
import torch
from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.inference import run_encoded
from sciformer.plugins import PluginHost
from sciformer.quantization import quantize_for_inference
from sciformer.records import Record

DATA = Path(__file__).resolve().parents[1] / "plugins/protein/data"


def real_sequences(count: int) -> list[str]:
    seen: dict[str, None] = {}
    for name in ("deeploc_sample.csv", "netsurfp_sample.csv"):
        with open(DATA / name) as f:
            seen.update((row["sequence"][:1022], None) for row in csv.DictReader(f))
    distinct = list(seen)
    return [distinct[i % len(distinct)] for i in range(count)]


def timed(model, tokenizer, encoded, ids, repeats: int) -> tuple[float, np.ndarray]:
    best, pooled = float("inf"), np.zeros((len(encoded), model.config.dim), dtype=np.float32)
    for _ in range(repeats):
        start = time.perf_counter()
        for rows, _, output in run_encoded(model, tokenizer, encoded, ids, dtype="float32"):
            pooled[rows] = output.pooled.float().numpy()
        best = min(best, time.perf_counter() - start)
    return best, pooled


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sequences", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    host = PluginHost()
    config = ModelConfig(domain="protein", dim=320, depth=6, heads=20, position="rotary", max_positions=1026)
    model = build_model(config, host).eval()
    tokenizer = host.tokenizer(config)
    seqs = real_sequences(args.sequences)
    encoded = [tokenizer.encode(Record(str(i), s)) for i, s in enumerate(seqs)]
    ids = [str(i) for i in range(len(seqs))]
    residues = sum(map(len, seqs))
    print(f"{len(seqs)} sequences, {residues:,} residues, {args.threads} thread(s), best of {args.repeats}")
    seconds32, pooled32 = timed(model, tokenizer, encoded, ids, args.repeats)
    seconds8, pooled8 = timed(quantize_for_inference(copy.deepcopy(model)), tokenizer, encoded, ids, args.repeats)
    cosine = (pooled32 * pooled8).sum(1) / (np.linalg.norm(pooled32, axis=1) * np.linalg.norm(pooled8, axis=1))
    print(f"float32 {seconds32:.2f} s ({residues / seconds32:,.0f} residues/s)")
    print(f"int8    {seconds8:.2f} s ({residues / seconds8:,.0f} residues/s)")
    print(f"int8 / float32 speed-up {seconds32 / seconds8:.2f}x; pooled cosine min {cosine.min():.5f}, mean {cosine.mean():.5f}")


if __name__ == "__main__":
    main()
