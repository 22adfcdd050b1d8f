"""Baseline for an audio classification recipe (FSDD digits): logistic regression on log-mel statistics.

Each recording is conditioned like the model's input (the recipe's sample rate, mean removed), turned
into Kaldi log-mel frames with the recipe's number of bins, and summarised by the mean of each bin over
the recording's frames, or by each bin's mean and standard deviation. Features are standardised with
training statistics and an L2-regularised softmax regression is fitted with L-BFGS. The summary and
the L2 strength are chosen on the recipe's validation part (its own split: for FSDD, recording indices
0-4 are the test set and 10% of the rest, seed 0, validate); the test part is scored once. Prints a
baseline report (JSON).

    python plugins/audio/scripts/fsdd_baseline.py plugins/audio/recipes/ast-fsdd-small.yaml
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sciformer.baseline_report import accuracy_report, labelled_parts, recipe_parts
from sciformer.config import ModelConfig
from sciformer.linear_probe import accuracy, fit_softmax, standardised
from sciformer.records import Record
from sciformer_audio.fbank import KaldiFbank
from sciformer_audio.settings import AudioSettings
from sciformer_audio.tokenizer import WaveformTokenizer

L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2)
WHOLE_RECORDING = 100_000  # frames: long enough that no recording is cropped before it is summarised
SUMMARIES = {"mean": 1, "mean+std": 2}  # how many statistics per bin


def statistics(records: Sequence[Record], options: dict) -> torch.Tensor:
    """(N, 2 * bins): each log-mel bin's mean over a recording's frames, then each bin's std."""
    rate = options.get("sample_rate", AudioSettings.sample_rate)
    bins = options.get("num_mel_bins", AudioSettings.num_mel_bins)
    tokenizer = WaveformTokenizer(ModelConfig(domain="audio", domain_options={"sample_rate": rate, "num_mel_bins": bins, "max_length": WHOLE_RECORDING}))
    fbank = KaldiFbank(rate, bins)
    rows = []
    for record in records:
        samples = tokenizer.encode(record).samples
        frames, _ = fbank(samples[None], torch.tensor([samples.shape[0]]))
        rows.append(torch.cat((frames[0].mean(dim=0), frames[0].std(dim=0))))
    return torch.stack(rows)


def main() -> None:
    """Fit each summary and L2 strength on train, choose on valid, score the chosen one on test; print the report."""
    args, recipe, parts = recipe_parts(__doc__, "audio")
    labels, parts = labelled_parts(parts)
    options = recipe.model.get("domain_options") or {}
    features = {name: statistics(records, options) for name, records in parts.items()}
    targets = {name: torch.tensor([labels.index(str(r.target)) for r in records]) for name, records in parts.items()}
    bins = features["train"].shape[1] // 2
    fitted, valid = {}, {}
    for summary, width in SUMMARIES.items():
        x = standardised({name: values[:, : width * bins] for name, values in features.items()})
        for l2 in L2_GRID:
            name = f"per-bin {summary}, l2={l2:g}"
            fitted[name] = (fit_softmax(x["train"], targets["train"], len(labels), l2), x)
            valid[name] = accuracy(fitted[name][0], x["valid"], targets["valid"])

    def test(name: str) -> float:
        model, scaled = fitted[name]
        return accuracy(model, scaled["test"], targets["test"])

    baseline = f"log-mel statistics ({bins} bins) + logistic regression"
    details = {"records": {name: len(records) for name, records in parts.items()}}
    print(accuracy_report(args.recipe, baseline, valid, test, len(parts["test"]), details).to_json())


if __name__ == "__main__":
    main()
