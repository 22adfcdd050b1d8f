"""Audio: transformers ASTFeatureExtractor + ASTModel against sciformer end to end, 10 s clips at 16 kHz.

    .venv/bin/python benchmarks/bench_audio.py [--size tiny|small|base] [--clips 8] [--batches 1] [--repeats 3] [--threads N]

AST's published input shape (128 mel bins, 1024 frames, 16x16 patches every 10: 1,214 tokens) with
random weights; `--size` picks the width: `tiny` (default, 192 wide, 3 heads), `small` (384, 6 heads)
or `base` (768, 12 heads: the published AST, about 10x slower than tiny), all 12 layers with an MLP
4x as wide. The reference is built offline, saved and imported with `hf-ast`.

Clips are real speech: FSDD recordings (8 kHz) resampled to 16 kHz and concatenated, in file order,
into 10-second waveforms. End to end on both sides: the reference runs its feature extractor on the
list of waveforms and ASTModel on the result; sciformer conditions the records (its tokenizer),
computes its batched Kaldi fbank and runs the imported model. Clips per second, the sides alternating
in one process, best of `--repeats`. Outputs checked: max abs difference of the pooled output ((CLS +
distillation) / 2) and of the last hidden states in float32; cosine to the float32 reference in
bfloat16. Targets: 1.1x in float32; 2.5x with bfloat16 against the float32 reference (sciformer under
autocast, or cast with `.to(torch.bfloat16)` plus autocast: the faster is reported).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile
import torch
from common import alternate, bf16_line, fastest_bf16, min_cosine, perturbed, precision_runs, ratio_line, start
from sciformer.checkpoint import load_checkpoint
from sciformer.engine.model import SciformerModel
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer_audio.hf_ast import import_hf_ast
from sciformer_audio.waveform import Waveform, resample
from torch import Tensor
from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

HERE = Path(__file__).resolve().parent
# the full FSDD in the shared data folder, else the 30 recordings the audio plugin ships
RECORDINGS = (HERE.parents[1] / "shared/data/audio/fsdd/recordings", HERE.parent / "plugins/audio/data")
SAMPLE_RATE = 16000
CLIP_SECONDS = 10
SIZES = {"tiny": (192, 3), "small": (384, 6), "base": (768, 12)}  # name: (width, heads)
Outputs = tuple[Tensor, Tensor]  # pooled (B, D), last hidden states (B, T, D)


def clips(count: int, folder: Path) -> list[np.ndarray]:
    """`count` 10-second float32 waveforms at 16 kHz: the folder's recordings resampled and concatenated in file order."""
    files = sorted(folder.glob("*.wav"))
    if not files:
        raise SystemExit(f"{folder}: no .wav recordings (pass --recordings)")
    length = CLIP_SECONDS * SAMPLE_RATE
    out, index = [], 0
    for _ in range(count):
        pieces, filled = [], 0
        while filled < length:
            samples, rate = soundfile.read(files[index % len(files)], dtype="float32")
            index += 1
            pieces.append(resample(samples, rate, SAMPLE_RATE))
            filled += len(pieces[-1])
        out.append(np.concatenate(pieces)[:length])
    return out


def reference_model(size: str, folder: Path) -> ASTModel:
    """A random ASTModel of the named width with AST's input shape, saved with its feature extractor."""
    width, heads = SIZES[size]
    config = ASTConfig(hidden_size=width, num_hidden_layers=12, num_attention_heads=heads, intermediate_size=4 * width,
                       num_mel_bins=128, max_length=1024)
    torch.manual_seed(0)
    model = perturbed(ASTModel(config).eval())  # transformers zero-initialises the special tokens and positions
    model.save_pretrained(folder)
    ASTFeatureExtractor(num_mel_bins=128, max_length=1024).save_pretrained(folder)
    return model


def main() -> None:
    """Print the float32 and bfloat16 comparison lines."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--clips", type=int, default=8, help="clips per batch")
    parser.add_argument("--batches", type=int, default=1, help="batches per timed measurement")
    parser.add_argument("--recordings", type=Path, default=next((f for f in RECORDINGS if f.is_dir()), RECORDINGS[-1]),
                        help="folder of .wav recordings (default: the shared FSDD, else the audio plugin's data)")
    args = start(parser)
    # 128 mel bins at 16 kHz leave one band empty, in AST itself too (see the audio plugin's README)
    warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")
    host = PluginHost(only={"audio"})
    waveforms = clips(args.clips, args.recordings)
    records = [Record(str(i), Waveform(w, SAMPLE_RATE)) for i, w in enumerate(waveforms)]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        reference = reference_model(args.size, folder / "hf")
        extractor = ASTFeatureExtractor.from_pretrained(folder / "hf")
        checkpoint = import_hf_ast(folder / "hf", folder / "ours", host, {})
        ours = load_checkpoint(checkpoint, host).eval()
        cast = load_checkpoint(checkpoint, host).eval().to(torch.bfloat16)
    tokenizer = host.tokenizer(ours.config)

    def reference_step() -> Outputs:
        features = extractor(waveforms, sampling_rate=SAMPLE_RATE, return_tensors="pt")["input_values"]
        output = reference(features)
        return output.pooler_output.float(), output.last_hidden_state.float()

    def our_step(model: SciformerModel) -> Outputs:
        output = model(tokenizer(records))
        return output.pooled.float(), output.hidden.float()

    runs = precision_runs(reference_step, our_step, ours, cast, args.batches)
    outputs, seconds = alternate(runs, args.repeats)
    rate = {name: args.clips * args.batches / s for name, s in seconds.items()}
    reference_rate, (pooled_ref, hidden_ref) = rate["reference float32"], outputs["reference float32"]
    width, heads = SIZES[args.size]
    tokens = tokenizer.settings.num_tokens
    label = f"AST-{args.size} ({width} wide, {heads} heads, {tokens:,} tokens), {args.clips} x {CLIP_SECONDS} s clips"

    pooled, hidden = outputs["sciformer float32"]
    pooled_diff, hidden_diff = (pooled - pooled_ref).abs().max(), (hidden - hidden_ref).abs().max()
    agreement = f"max |pooled diff| {pooled_diff:.1e}, max |last hidden diff| {hidden_diff:.1e}"
    print(ratio_line(f"{label} float32", reference_rate, rate["sciformer float32"], "clips/s", f"(target 1.1x); {agreement}"))

    pooled, hidden = outputs[fastest_bf16(rate)]
    cosines = f"min cosine to float32 reference: pooled {min_cosine(pooled, pooled_ref):.5f}, hidden {min_cosine(hidden, hidden_ref):.5f}"
    print(bf16_line(label, rate, "clips/s", cosines, digits=2))


if __name__ == "__main__":
    main()
