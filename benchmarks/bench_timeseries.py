"""PatchTST: transformers PatchTSTForPrediction against sciformer's imported copy, windows per second.

    .venv/bin/python benchmarks/bench_timeseries.py [--batch 64] [--batches 1] [--repeats 3] [--threads N] [--quick]

The published shape: context 512, patches of 16 every 8 steps (63 per channel), 7 channels, prediction 96;
transformers' defaults otherwise (d_model 128, 3 layers, 4 heads, ffn 512, BatchNorm, std scaling), random
weights (every tensor perturbed, BatchNorm statistics too), built offline, saved and imported with
`hf-patchtst`. Both sides get the same random-walk windows (B, 512, 7); sciformer's time includes its
collate. The sides alternate within one process and the best of `--repeats` is kept. `--quick` is a
smoke run: batch 4, one round.

Goal: at least 1.1x in float32 with equal outputs (max abs difference of the forecasts).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from common import alternate, batch_arguments, random_reference, ratio_line, repeated
from sciformer.checkpoint import load_checkpoint
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer_timeseries.importer import import_hf_patchtst
from sciformer_timeseries.series import Window
from transformers import PatchTSTConfig, PatchTSTForPrediction

PUBLISHED = {"context_length": 512, "prediction_length": 96, "num_input_channels": 7, "patch_length": 16, "patch_stride": 8}
QUICK_BATCH = 4


def reference_model(folder: Path) -> PatchTSTForPrediction:
    """A random PatchTST of the published shape (random BatchNorm statistics too), saved to `folder`."""

    def build() -> PatchTSTForPrediction:
        model = PatchTSTForPrediction(PatchTSTConfig(**PUBLISHED))
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, torch.nn.BatchNorm1d):
                    module.running_mean.normal_(0.0, 0.5)
                    module.running_var.uniform_(0.5, 2.0)
        return model

    return random_reference(build, folder)


def main() -> None:
    """Print the float32 comparison line."""
    args = batch_arguments(__doc__, batch=64, unit="windows", quick_batch=QUICK_BATCH)
    host = PluginHost(only={"timeseries"})
    with tempfile.TemporaryDirectory() as folder:
        reference = reference_model(Path(folder) / "hf")
        ours = load_checkpoint(import_hf_patchtst(Path(folder) / "hf", Path(folder) / "ours", host, {}), host).eval()
    tokenizer = host.tokenizer(ours.config)
    walks = 280.0 + torch.randn(args.batch, PUBLISHED["context_length"], PUBLISHED["num_input_channels"], generator=torch.Generator().manual_seed(2)).cumsum(dim=1)
    records = [Record(str(i), Window(walks[i].numpy(), (), str(i))) for i in range(args.batch)]

    runs = {
        "reference float32": repeated(lambda: reference(past_values=walks).prediction_outputs, args.batches, False),
        "sciformer float32": repeated(lambda: ours(tokenizer(records)).prediction, args.batches, False),
    }
    outputs, seconds = alternate(runs, args.repeats)
    rate = {name: args.batch * args.batches / value for name, value in seconds.items()}
    difference = (outputs["sciformer float32"] - outputs["reference float32"]).abs().max()
    label = f"PatchTST context 512, patch 16 / 8, 7 channels, batch {args.batch} float32"
    print(ratio_line(label, rate["reference float32"], rate["sciformer float32"], "windows/s", f"(target 1.1x); max |forecast diff| {difference:.1e}"))


if __name__ == "__main__":
    main()
