"""Attention maps of one record: one array when every layer has the same shape, one per layer when stages differ."""

from __future__ import annotations

import numpy as np
from sciformer.attention_maps import save_maps


def test_layers_of_one_shape_stack_into_one_array(tmp_path) -> None:
    maps = [np.full((2, 3, 3), float(i), dtype=np.float32) for i in range(4)]
    saved = save_maps(maps, tmp_path / "record")
    assert saved.name == "record.npy"
    stacked = np.load(saved)
    assert stacked.shape == (4, 2, 3, 3) and stacked[3, 1, 2, 2] == 3.0


def test_layers_of_several_shapes_keep_one_array_each(tmp_path) -> None:
    maps = [np.ones((2, 16, 16), dtype=np.float32), np.ones((2, 16, 16), dtype=np.float32), np.zeros((4, 4, 4), dtype=np.float32)]
    saved = save_maps(maps, tmp_path / "swin")
    assert saved.name == "swin.npz"
    with np.load(saved) as layers:
        assert sorted(layers) == ["layer_0", "layer_1", "layer_2"]
        assert layers["layer_2"].shape == (4, 4, 4) and layers["layer_0"].shape == (2, 16, 16)
