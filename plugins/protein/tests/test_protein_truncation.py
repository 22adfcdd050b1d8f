"""A protein longer than a truncating model's limit is said so: a `truncated` flag and a warning in `error`."""

from __future__ import annotations

import h5py
import numpy as np
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.scoring import score

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


def test_truncated_records_are_flagged_and_explained(host, tmp_path, small_config) -> None:
    config = small_config(task="sequence-classification", labels=("a", "b"), num_labels=2, max_positions=300, domain_options={"max_residues": 254, "long_sequences": "truncate"})
    model = save_checkpoint(build_model(config, host), tmp_path / "truncating", host)
    rng = np.random.default_rng(0)
    long = "".join(rng.choice(list(AMINO_ACIDS), size=300))
    (tmp_path / "in.fasta").write_text(f">short\nMKTAYIAKQR\n>long\n{long}\n>bad\nMK*\n")
    summary = score(str(model), tmp_path / "in.fasta", tmp_path / "out.h5", host)
    assert (summary.scored, summary.noted, summary.bad) == (2, 1, 1)
    with h5py.File(tmp_path / "out.h5") as results:
        assert results["truncated"][:].tolist() == [False, True, False]
        assert dict(results["truncated"].attrs) == {"max_residues": 254, "long_sequences": "truncate"}
        assert results["status"][:].tolist() == [0, 0, 1]
        assert results["error"].asstr()[1] == "truncated: the model saw the first 254 of 300 residues (long_sequences: truncate)"
        assert results["error"].asstr()[0] == ""
