"""`--dtype int8` (dynamic INT8 Linear layers) against float32, random weights, best of --repeats, with the
pooled-output cosine of int8 to float32.

    .venv/bin/python benchmarks/int8_dynamic.py [--model esm2-8m|esm2-35m|vit-s16|ast-small] [--sequences 256] [--repeats 3] [--threads 1] [--weight-scales]

- `esm2-8m` (the default) and `esm2-35m`: ESM-2 8M shape (320 dim, 6 layers, 20 heads, rotary, no head)
  or 35M shape (480 dim, 12 layers, 20 heads) through `run_encoded`; the sequences are the real ones of plugins/protein/data (80 distinct: DeepLoc and
  NetSurfP samples), repeated in order up to --sequences.
- `vit-s16`: ViT-S/16 (384 dim, 12 layers, 6 heads, 224 px, 197 tokens), a batch of 32 random images
  through the tokenizer and the model.
- `ast-small`: AST's input shape (128 mel bins, 1,024 frames, 1,214 tokens), 384 wide, 12 layers, 6
  heads, imported with `hf-ast` from a random transformers ASTModel; 4 ten-second speech clips (bench_audio.py).
- `--weight-scales` (vit-s16, ast-small): float32, INT8 with one weight scale per tensor and `--dtype int8`'s
  one scale per output channel, timed in turn (each repeat runs all three), with each one's pooled cosine.
"""

from __future__ import annotations

import argparse
import copy
import csv
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.inference import run_encoded
from sciformer.plugins import PluginHost
from sciformer.quantization import quantize_for_inference
from sciformer.records import Record
from torch import nn

DATA = Path(__file__).resolve().parents[1] / "plugins/protein/data"
ESM_SHAPES = {"esm2-8m": (320, 6, 20), "esm2-35m": (480, 12, 20)}  # name: (dim, layers, heads)


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


def batch_rate(model: torch.nn.Module, batch_of: Callable[[], object], count: int, repeats: int) -> tuple[float, torch.Tensor]:
    """Best seconds of one forward pass over a collated batch (collation included), and its pooled output."""
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            pooled = model(batch_of()).pooled.float()
            best = min(best, time.perf_counter() - start)
    return best, pooled


def per_tensor_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy with its blocks' Linear layers INT8 with one weight scale per tensor (PyTorch's default)."""
    copied = copy.deepcopy(model)
    copied.blocks = torch.ao.quantization.quantize_dynamic(copied.blocks, {nn.Linear}, dtype=torch.qint8)
    return copied


def weight_scales(model: torch.nn.Module, batch_of: Callable[[], object], count: int, repeats: int, unit: str) -> None:
    """Print float32, per-tensor and per-channel INT8 rates, the three timed in turn in every repeat."""
    models = {"float32": model, "int8, a scale per tensor": per_tensor_int8(model), "int8, a scale per channel": quantize_for_inference(copy.deepcopy(model))}
    batch = batch_of()
    best = dict.fromkeys(models, float("inf"))
    pooled: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        for _ in range(repeats + 1):
            for name, candidate in models.items():
                start = time.perf_counter()
                pooled[name] = candidate(batch).pooled.float()
                best[name] = min(best[name], time.perf_counter() - start)
    for name in models:
        cosine = torch.nn.functional.cosine_similarity(pooled["float32"], pooled[name]).min()
        print(f"{name}: {count / best[name]:,.1f} {unit}, pooled cosine min {float(cosine):.5f}")
    print(f"per channel / per tensor speed {best['int8, a scale per tensor'] / best['int8, a scale per channel']:.2f}x")


def image_or_clip_model(name: str, folder: Path) -> tuple[torch.nn.Module, Callable[[], object], int, str]:
    """(model, a function collating its batch, records per batch, unit) for `vit-s16` or `ast-small`."""
    torch.manual_seed(0)
    if name == "vit-s16":
        host = PluginHost(only={"vision"})
        config = ModelConfig(domain="vision", dim=384, depth=12, heads=6, pooling="cls", domain_options={"patch_size": 16, "image_size": [224, 224], "channels": 3})
        model = build_model(config, host).eval()
        pixels = torch.randn(32, 224, 224, 3, generator=torch.Generator().manual_seed(2)).numpy()
        records = [Record(str(i), pixels[i]) for i in range(32)]
        return model, lambda: host.tokenizer(config)(records), 32, "img/s"
    from bench_audio import RECORDINGS, SAMPLE_RATE, clips, reference_model
    from sciformer.checkpoint import load_checkpoint
    from sciformer_audio.hf_ast import import_hf_ast
    from sciformer_audio.waveform import Waveform

    host = PluginHost(only={"audio"})
    reference_model("small", folder / "hf")
    model = load_checkpoint(import_hf_ast(folder / "hf", folder / "ours", host, {}), host).eval()
    waveforms = clips(4, next(f for f in RECORDINGS if f.is_dir()))
    records = [Record(str(i), Waveform(w, SAMPLE_RATE)) for i, w in enumerate(waveforms)]
    return model, lambda: host.tokenizer(model.config)(records), 4, "clips/s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=(*ESM_SHAPES, "vit-s16", "ast-small"), default="esm2-8m")
    parser.add_argument("--sequences", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--weight-scales", action="store_true", help="vit-s16 / ast-small: per-tensor against per-channel INT8 weights")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.model not in ESM_SHAPES:
        with tempfile.TemporaryDirectory() as folder:
            model, batch_of, count, unit = image_or_clip_model(args.model, Path(folder))
        if args.weight_scales:
            weight_scales(model, batch_of, count, args.repeats, unit)
            return
        seconds32, pooled32 = batch_rate(model, batch_of, count, args.repeats)
        seconds8, pooled8 = batch_rate(quantize_for_inference(copy.deepcopy(model)), batch_of, count, args.repeats)
        cosine = torch.nn.functional.cosine_similarity(pooled32, pooled8)
        print(f"{args.model}: {args.threads} thread(s), best of {args.repeats}")
        print(f"float32 {count / seconds32:,.1f} {unit}; int8 {count / seconds8:,.1f} {unit}")
        print(f"int8 / float32 speed-up {seconds32 / seconds8:.2f}x; pooled cosine min {float(cosine.min()):.5f}, mean {float(cosine.mean()):.5f}")
        return
    torch.manual_seed(0)
    host = PluginHost()
    dim, depth, heads = ESM_SHAPES[args.model]
    config = ModelConfig(domain="protein", dim=dim, depth=depth, heads=heads, position="rotary", max_positions=1026)
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
