"""Baseline for the FSDD digits model: multinomial logistic regression on mean log-mel features.

Each recording is conditioned like the model's input (8 kHz, mean removed), turned into 64-bin Kaldi
log-mel frames, and summarised by the mean of each bin over its frames (64 numbers; with
`--with-std` also each bin's standard deviation, 128 numbers). Features are standardised with training statistics; an L2-regularised softmax regression
is fitted with L-BFGS in torch. Split: FSDD's convention, recording indices 0-4 are the test set
(data/fsdd_test.csv), the rest train (data/fsdd_train.csv).

    python plugins/audio/scripts/fsdd_baseline.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sciformer.config import ModelConfig
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer_audio.fbank import KaldiFbank
from sciformer_audio.tokenizer import WaveformTokenizer

DATA = Path(__file__).resolve().parents[1] / "data"
OPTIONS = {"data_column": "file", "target_column": "digit", "root": "../../../../shared/data/audio/fsdd/recordings"}


def summaries(path: Path, host: PluginHost, with_std: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 64) per-bin means (N, 128 with stds) of log-mel frames, and (N,) digit labels."""
    config = ModelConfig(domain="audio", domain_options={"sample_rate": 8000, "num_mel_bins": 64, "max_length": 1000})
    tokenizer = WaveformTokenizer(config)
    fbank = KaldiFbank(8000, 64)
    rows, labels = [], []
    for record in read_records(host, "audio", path, OPTIONS):
        samples, _ = tokenizer.encode(record)
        features, _ = fbank(samples[None], torch.tensor([samples.shape[0]]))
        parts = (features[0].mean(dim=0), features[0].std(dim=0)) if with_std else (features[0].mean(dim=0),)
        rows.append(torch.cat(parts))
        labels.append(int(record.target))
    return torch.stack(rows), torch.tensor(labels)


def main() -> None:
    """Fit on the training manifest, report accuracy on the test manifest as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--l2", type=float, default=1e-3, help="weight decay of the regression")
    parser.add_argument("--with-std", action="store_true", help="add each bin's standard deviation over frames")
    args = parser.parse_args()
    host = PluginHost()
    train_x, train_y = summaries(DATA / "fsdd_train.csv", host, args.with_std)
    test_x, test_y = summaries(DATA / "fsdd_test.csv", host, args.with_std)
    mean, std = train_x.mean(dim=0), train_x.std(dim=0)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    linear = torch.nn.Linear(train_x.shape[1], 10)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(train_x), train_y) + args.l2 * linear.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        accuracy = float((linear(test_x).argmax(dim=1) == test_y).float().mean())
        train_accuracy = float((linear(train_x).argmax(dim=1) == train_y).float().mean())
    print(json.dumps({"baseline": f"logistic regression on per-bin {'mean+std' if args.with_std else 'mean'} of 64 log-mel bins", "train": len(train_y), "test": len(test_y), "train_accuracy": round(train_accuracy, 4), "test_accuracy": round(accuracy, 4)}))


if __name__ == "__main__":
    main()
