"""Comparing two results files row by row: the check behind every resume, shard and fault test."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

PROVENANCE = ("checkpoint_sha256", "model_config", "outputs")  # attributes two runs of one job share


def assert_same_results(left: str | Path, right: str | Path) -> None:
    """Both files hold the same datasets with equal values (NaN equal to NaN, ragged rows compared one
    by one) and the same checkpoint, model and outputs; AssertionError names what differs."""
    with h5py.File(left, "r") as a, h5py.File(right, "r") as b:
        assert sorted(a) == sorted(b), f"datasets differ: {sorted(a)} vs {sorted(b)}"
        for name in a:
            if isinstance(a[name], h5py.Group):
                continue
            x, y = a[name][:], b[name][:]
            assert x.shape == y.shape, f"{name}: shape {x.shape} vs {y.shape}"
            if x.dtype == object:
                assert all(np.array_equal(p, q) for p, q in zip(x, y)), f"{name}: values differ"
            else:
                assert np.array_equal(x, y, equal_nan=True), f"{name}: values differ"
        for key in PROVENANCE:
            assert a.attrs[key] == b.attrs[key], f"attribute {key} differs"
