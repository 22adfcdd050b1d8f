"""`sciformer attention` on a Swin: one array per layer (the token grid and heads change from stage to stage)."""

from __future__ import annotations

import numpy as np
import torch
from click.testing import CliRunner
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.cli.main import build_cli
from sciformer.testing.checks import make_subject

SWIN = {"depth": 4, "stage_depths": [2, 2], "stage_heads": [2, 4], "position": "none", "pooling": "mean", "domain_options": {"window_size": 2}}


def test_attention_command_writes_every_stage_of_a_swin(host, tmp_path) -> None:
    subject = make_subject("vision", host, SWIN)
    torch.manual_seed(0)
    model_dir = save_checkpoint(build_model(subject.config, host).eval(), tmp_path / "swin", host)
    record = subject.examples.good[0]
    np.savez(tmp_path / "one.npz", images=np.asarray(record.data)[None])
    result = CliRunner().invoke(build_cli(host), ["attention", "--model", str(model_dir), "--input", str(tmp_path / "one.npz"), "--out", str(tmp_path / "maps")], obj=host)
    assert result.exit_code == 0, result.output
    (saved,) = (tmp_path / "maps").glob("*.npz")
    with np.load(saved) as layers:
        shapes = [layers[f"layer_{i}"].shape for i in range(4)]
    assert shapes[0] == shapes[1] and shapes[2] == shapes[3] and shapes[0][0] == 2 and shapes[2][0] == 4
    assert shapes[2][-1] < shapes[0][-1], "the second stage has fewer tokens"
    assert list((tmp_path / "maps").glob("*.png"))
