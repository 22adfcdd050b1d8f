"""Scoring a manifest of one's own recordings with the shipped model: paths relative to the manifest, no label needed."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile
from sciformer.checkpoint import read_checkpoint_info
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.reader_options import inference_options
from sciformer.reading import read_records
from sciformer.scoring import score


def write_recordings(folder: Path, count: int = 3) -> list[str]:
    """Short 8 kHz tones in `folder/clips/`; returns their paths relative to `folder`."""
    (folder / "clips").mkdir(parents=True)
    names = []
    for index in range(count):
        time = np.arange(4000 + 1000 * index) / 8000
        soundfile.write(folder / "clips" / f"take{index}.wav", (0.3 * np.sin(2 * np.pi * (300 + 200 * index) * time)).astype(np.float32), 8000)
        names.append(f"clips/take{index}.wav")
    return names


def test_own_recordings_in_another_folder_score(tmp_path: Path, host: PluginHost) -> None:
    """Relative paths resolve against the manifest's folder, not the training data's; no `digit` column needed."""
    folder = tmp_path / "elsewhere"
    names = write_recordings(folder)
    manifest = folder / "mine.csv"
    manifest.write_text("id,file\n" + "".join(f"rec{i},{name}\n" for i, name in enumerate(names)))
    summary = score("ast-fsdd-small", manifest, tmp_path / "mine.h5", host)
    assert (summary.scored, summary.bad) == (3, 0)
    with h5py.File(tmp_path / "mine.h5") as results:
        assert list(results["status"][:]) == [0, 0, 0]
        assert list(results["record_id"].asstr()[:]) == ["rec0", "rec1", "rec2"]


def test_root_overrides_the_manifest_folder_and_labels_are_used_when_present(tmp_path: Path, host: PluginHost) -> None:
    """`root` names the folder of the paths; the model's `digit` column is the target where the manifest has it."""
    names = write_recordings(tmp_path / "audio")
    manifest = tmp_path / "lists" / "labelled.csv"
    manifest.parent.mkdir()
    manifest.write_text("file,digit\n" + "".join(f"{name},{i}\n" for i, name in enumerate(names)))
    info = read_checkpoint_info(host.shipped_models()["ast-fsdd-small"].path)
    options = inference_options(host, info, manifest, {"root": "../audio"})
    records = list(read_records(host, "audio", manifest, options))
    assert [(r.id, r.target, r.error) for r in records] == [(name, str(i), None) for i, name in enumerate(names)]
    with pytest.raises(ConfigError, match="reader audio-manifest does not accept option.s. folder_labels"):
        inference_options(host, info, manifest, {"folder_labels": True})
