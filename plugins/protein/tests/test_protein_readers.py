"""Protein readers: FASTA (streamed, duplicate headers), text, CSV columns and label masks, HDF5."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from sciformer.errors import InputFileError
from sciformer.reading import read_records

DATA = Path(__file__).resolve().parents[1] / "data"


def test_fasta_keeps_duplicate_headers_apart(host, tmp_path) -> None:
    fasta = tmp_path / "seqs.fasta"
    fasta.write_text(">sp|P1|A first\nMKV\nLA\n>sp|P1|A again\nGGS\n>P2\n\n>P3\nmkv\n")
    records = list(read_records(host, "protein", fasta))
    assert [(r.id, r.data) for r in records] == [("sp|P1|A", "MKVLA"), ("sp|P1|A#2", "GGS"), ("P2", ""), ("P3", "mkv")]


def test_fasta_is_streamed(host, tmp_path) -> None:
    fasta = tmp_path / "many.fa"
    fasta.write_text("".join(f">s{i}\nMKV\n" for i in range(1000)))
    stream = read_records(host, "protein", fasta)
    assert next(stream).id == "s0" and next(stream).id == "s1"


def test_shipped_fasta_and_csv_hold_the_same_records(host) -> None:
    from_fasta = list(read_records(host, "protein", DATA / "deeploc_sample.fasta"))
    from_csv = list(read_records(host, "protein", DATA / "deeploc_sample.csv", {"target_column": "location"}))
    assert len(from_fasta) == len(from_csv) == 60
    assert [(r.id, r.data) for r in from_fasta] == [(r.id, r.data) for r in from_csv]
    assert {r.target for r in from_csv} <= {"Nucleus", "Cytoplasm", "Extracellular", "Mitochondrion", "Cell.membrane",
                                            "Endoplasmic.reticulum", "Plastid", "Golgi.apparatus", "Lysosome/Vacuole", "Peroxisome"}


def test_text_lines(host, tmp_path) -> None:
    path = tmp_path / "seqs.txt"
    path.write_text("MKV\n\nGGSW\n")
    assert [(r.id, r.data) for r in read_records(host, "protein", path)] == [("1", "MKV"), ("3", "GGSW")]


def test_csv_columns_and_residue_label_mask(host, tmp_path) -> None:
    path = tmp_path / "ss.csv"
    path.write_text("name,seq,ss3,resolved\nx,MKVL,CHHE,0110\ny,GG,CC,1\n")
    options = {"id_column": "name", "data_column": "seq", "target_column": "ss3", "label_mask_column": "resolved"}
    x, y = read_records(host, "protein", path, options)
    assert (x.id, x.data, x.target, x.error) == ("x", "MKVL", ".HH.", None)
    assert y.error == "label mask has 1 entries for 2 labels"
    with pytest.raises(InputFileError, match=r"column\(s\) \['sequence'\] not found"):
        list(read_records(host, "protein", path))


def test_hdf5_string_datasets(host, tmp_path) -> None:
    path = tmp_path / "seqs.h5"
    with h5py.File(path, "w") as out:
        out.create_dataset("sequences", data=np.array(["MKV", "GGSW", "LA"], dtype=object), dtype=h5py.string_dtype())
        out.create_dataset("names", data=np.array([b"a", b"b", b"c"]))
        out.create_dataset("label", data=np.array([1, 0, 1]))
    records = list(read_records(host, "protein", path, {"id_column": "names", "target_column": "label"}))
    assert [(r.id, r.data, r.target) for r in records] == [("a", "MKV", 1), ("b", "GGSW", 0), ("c", "LA", 1)]
    with pytest.raises(InputFileError, match="no dataset 'missing'"):
        list(read_records(host, "protein", path, {"dataset": "missing"}))
    with pytest.raises(InputFileError, match="must be a 1-D string dataset"):
        list(read_records(host, "protein", path, {"dataset": "label"}))
