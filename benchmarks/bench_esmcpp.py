"""Proteins: sciformer against esm.cpp (a C++ CPU engine for ESM-2), float32 and INT8, scoring the same sequences.

    .venv/bin/python benchmarks/bench_esmcpp.py [--sequences 512] [--repeats 2] [--threads N] [--quick]

The random ESM-2 8M of bench_protein.py (EsmModel built offline, saved, imported with `hf-esm`).
esm.cpp needs numpy < 2, so it runs in its own virtual environment (created once under
benchmarks/.esmcpp-venv) as a subprocess (esmcpp_worker.py) that times passes on request; where it cannot
be installed or started, one line says so and the script exits 0. Its safetensors loader wants the hub
layout: the saved file is converted (`esm.` prefix, `LayerNorm.weight`/`.bias`, per-layer rotary
`inv_freq`, and a masked-LM head, random, because esm.cpp always computes logits).

Contenders, alternating, best of `--repeats`: sciformer float32 and `--dtype int8` (dynamic INT8,
`quantize_for_inference`) in token-budget batches; esm.cpp float32 and W8A8 INT8 (`quantize_weights()`)
through `forward_scheduled` (packed batches; its time includes the small masked-LM head). Each side's
inputs are tokenized before timing. Residues per second; agreement is the smallest cosine, against
sciformer float32, of the mean last-layer embeddings of the first `--agree` sequences. `--quick` is a
smoke run: 16 sequences, one round.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_protein import cosine, reference_model, sequences
from common import ratio_line, start
from safetensors.torch import load_file, save_file
from sciformer.checkpoint import load_checkpoint
from sciformer.data.budget import token_budget_batches
from sciformer.plugins import PluginHost
from sciformer.quantization import quantize_for_inference
from sciformer.records import Record
from sciformer_protein.import_hf import import_hf_esm
from transformers import EsmConfig, EsmForMaskedLM

HERE = Path(__file__).resolve().parent
VENV = HERE / ".esmcpp-venv"
WORKER = HERE / "esmcpp_worker.py"
REQUIREMENTS = ("esm-cpp", "numpy<2")
SIZE = "8M"
QUICK_SEQUENCES = 16
WARMUP = 8  # sequences run once per contender before timing (lazy initialisation, thread pools)
SCIFORMER = ("sciformer float32", "sciformer int8")
ESMCPP = {"esm.cpp float32": "float32", "esm.cpp int8": "int8"}


class Skipped(Exception):
    """esm.cpp cannot be installed or run here; the message says why."""


def venv_python() -> Path:
    """The interpreter of esm.cpp's virtual environment, created (once) with esm.cpp and numpy < 2."""
    python = VENV / "bin" / "python"
    if not python.is_file():
        for command in ([sys.executable, "-m", "venv", str(VENV)], [str(python), "-m", "pip", "install", "-q", *REQUIREMENTS]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                lines = (done.stderr or done.stdout).strip().splitlines()
                raise Skipped(f"`{' '.join(command[-3:])}` failed (exit {done.returncode}): {lines[-1] if lines else 'no output'}")
    return python


def esmcpp_weights(hf: Path, config: EsmConfig, out: Path) -> None:
    """Write the transformers checkpoint in `hf` in the hub layout esm.cpp loads, with a random masked-LM head (seed 0)."""
    renamed = {"esm." + name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias"): tensor
               for name, tensor in load_file(hf / "model.safetensors").items()}
    head_dim = config.hidden_size // config.num_attention_heads
    inv_freq = 1.0 / 10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    for layer in range(config.num_hidden_layers):
        renamed[f"esm.encoder.layer.{layer}.attention.self.rotary_embeddings.inv_freq"] = inv_freq.clone()
    torch.manual_seed(0)
    head = EsmForMaskedLM(config).lm_head.state_dict()
    head["decoder.weight"] = renamed["esm.embeddings.word_embeddings.weight"]  # tied, as in ESM-2
    renamed.update({f"lm_head.{name}": tensor.clone().contiguous() for name, tensor in head.items()})
    save_file(renamed, out)


class Worker:
    """esm.cpp in a subprocess of its virtual environment, one JSON answer per request."""

    def __init__(self, python: Path, weights: Path, seqs: Path, threads: int) -> None:
        env = {**os.environ, "ESM_NUM_THREADS": str(threads)}
        self.process = subprocess.Popen([str(python), str(WORKER), str(weights), str(seqs)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.info = self._answer()

    def _answer(self) -> dict[str, object]:
        line = self.process.stdout.readline()
        if not line:
            lines = self.process.stderr.read().strip().splitlines()
            raise Skipped(f"the esm.cpp worker exited ({self.process.wait()}): {lines[-1] if lines else 'no output'}")
        return json.loads(line)

    def ask(self, request: str) -> dict[str, object]:
        """Send one request line and return its answer."""
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        """End the subprocess."""
        self.process.stdin.close()
        self.process.wait()


def sciformer_pass(model: torch.nn.Module, tokenizer: object, encoded: list[object], batch_tokens: int) -> tuple[float, np.ndarray]:
    """Seconds and mean embeddings of one token-budget pass over `encoded`."""
    lengths = [tokenizer.num_tokens(e) for e in encoded]
    embeddings = np.zeros((len(encoded), model.config.dim), dtype=np.float32)
    begin = time.perf_counter()
    with torch.inference_mode():
        for rows in token_budget_batches(lengths, batch_tokens):
            embeddings[rows] = model(tokenizer.collate([encoded[i] for i in rows], [str(i) for i in rows])).pooled.numpy()
    return time.perf_counter() - begin, embeddings


def compare(args: argparse.Namespace, seqs: list[str], folder: Path) -> None:
    """Build the weights, start esm.cpp, time the four contenders in turn and print the result lines."""
    python = venv_python()
    config = reference_model(SIZE, folder / "hf").config
    import_hf_esm(folder / "hf", folder / "ours", PluginHost(), {})
    esmcpp_weights(folder / "hf", config, folder / "esmcpp.safetensors")
    (folder / "sequences.json").write_text(json.dumps(seqs))
    worker = Worker(python, folder / "esmcpp.safetensors", folder / "sequences.json", args.threads or torch.get_num_threads())
    host = PluginHost()
    models = {SCIFORMER[0]: load_checkpoint(folder / "ours", host), SCIFORMER[1]: quantize_for_inference(load_checkpoint(folder / "ours", host))}
    tokenizer = host.tokenizer(models[SCIFORMER[0]].config)
    encoded = [tokenizer.encode(Record(str(i), s)) for i, s in enumerate(seqs)]
    agree = min(args.agree, len(seqs))
    embeddings: dict[str, np.ndarray] = {}
    for name, model in models.items():
        sciformer_pass(model, tokenizer, encoded[:WARMUP], args.batch_tokens)
    for mode in ESMCPP.values():
        worker.ask(f"time {mode} {WARMUP}")
    best = {name: float("inf") for name in (*SCIFORMER, *ESMCPP)}
    for _ in range(args.repeats):
        for name, model in models.items():
            seconds, embeddings[name] = sciformer_pass(model, tokenizer, encoded, args.batch_tokens)
            best[name] = min(best[name], seconds)
        for name, mode in ESMCPP.items():
            best[name] = min(best[name], float(worker.ask(f"time {mode} {len(seqs)}")["seconds"]))
    for name, mode in ESMCPP.items():
        embeddings[name] = np.load(worker.ask(f"embed {mode} {agree} {folder / mode}.npy")["saved"])
    worker.close()
    residues = sum(map(len, seqs))
    rate = {name: residues / seconds for name, seconds in best.items()}
    print(f"esm.cpp {worker.info['version']} (ISA {worker.info['isa']}, {worker.info['threads']} threads); ESM-2 {SIZE}, random weights; "
          f"{len(seqs)} sequences, {residues:,} residues; best of {args.repeats}")
    print(f"ESM-2 {SIZE} residues/s: " + ", ".join(f"{name} {value:,.0f}" for name, value in rate.items()))
    print(ratio_line(f"ESM-2 {SIZE} int8 vs esm.cpp int8", rate["esm.cpp int8"], rate["sciformer int8"], "res/s"))
    print(ratio_line(f"ESM-2 {SIZE} float32 vs esm.cpp float32", rate["esm.cpp float32"], rate["sciformer float32"], "res/s"))
    base = embeddings[SCIFORMER[0]][:agree]
    cosines = ", ".join(f"{name} {cosine(embeddings[name][:agree], base):.5f}" for name in (SCIFORMER[1], *ESMCPP))
    print(f"ESM-2 {SIZE} min cosine to sciformer float32 (mean last-layer embeddings, first {agree} sequences): {cosines}")


def main() -> None:
    """Print the comparison, or one line saying why esm.cpp was skipped."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=512)
    parser.add_argument("--batch-tokens", type=int, default=2048, help="sciformer's token budget (as bench_protein.py)")
    parser.add_argument("--agree", type=int, default=64, help="sequences whose embeddings are compared (esm.cpp embeds one at a time)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_SEQUENCES} sequences, one round")
    args = start(parser, repeats=2)
    if args.quick:
        args.sequences, args.repeats = QUICK_SEQUENCES, 1
    with tempfile.TemporaryDirectory() as folder:
        try:
            compare(args, sequences(args.sequences), Path(folder))
        except Skipped as reason:
            print(f"esm.cpp skipped: {reason}")


if __name__ == "__main__":
    main()
