"""Protein readers: FASTA (streamed, duplicate headers), text, CSV columns and label masks, HDF5; a fault
in one record is that record's error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from sciformer.errors import InputFileError
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring import score

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


COUNT = 3000
BAD = 2501  # the record (from 1) that holds the fault


def _fasta(tmp_path: Path, bad_sequence: bytes) -> Path:
    entries = [f">r{n} protein {n}\nMKTAYIAKQR\nGGSW\n".encode() for n in range(1, COUNT + 1)]
    entries[BAD - 1] = b">r2501 protein 2501\n" + bad_sequence + b"\nGGSW\n"
    path = tmp_path / "faults.fasta"
    path.write_bytes(b"".join(entries))
    return path


def test_fasta_byte_that_is_not_utf8_is_its_records_error(host, tmp_path) -> None:
    records = list(read_records(host, "protein", _fasta(tmp_path, b"MKT\xe9AYIAKQR")))  # a latin-1 e-acute
    assert len(records) == COUNT and records[0] == Record("r1", "MKTAYIAKQRGGSW")
    assert [(r.id, r.error) for r in records if r.error] == [("r2501", "not UTF-8 text: byte 0xE9 at character 4 of line 7,502")]


def test_fasta_faults_score_as_bad_records(host, tmp_path) -> None:
    latin = _fasta(tmp_path, b"MKT\xe9AYIAKQR")
    utf8 = tmp_path / "utf8.fasta"
    utf8.write_bytes(latin.read_bytes().replace(b"MKT\xe9A", "MKTéA".encode()))
    for path in (latin, utf8):
        summary = score("esm2-deeploc-small", path, tmp_path / f"{path.stem}.h5", host)
        assert (summary.scored, summary.bad) == (COUNT - 1, 1)
        with h5py.File(tmp_path / f"{path.stem}.h5") as results:
            status, errors = results["status"][:], results["error"].asstr()[:]
        assert np.flatnonzero(status).tolist() == [BAD - 1]
        reason = "not UTF-8 text: byte 0xE9" if path == latin else "invalid character 'É' at position 4"
        assert reason in errors[BAD - 1]


def test_fasta_without_a_header_is_one_line_on_the_command_line(host, tmp_path) -> None:
    bare = tmp_path / "bare.fasta"
    bare.write_text("MKTAYIAKQR\n>r2\nGGSW\n")
    with pytest.raises(InputFileError, match=r"bare.fasta: not a FASTA file: line 1 does not start with '>'$"):
        list(read_records(host, "protein", bare))
    command = [str(Path(sys.executable).parent / "sciformer"), "score", "--model", "esm2-deeploc-small", "--input", str(bare), "--output", str(tmp_path / "o.h5")]
    run = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.splitlines() == [f"Error: {bare}: not a FASTA file: line 1 does not start with '>'"]


def test_text_csv_and_hdf5_faults_spoil_only_their_records(host, tmp_path) -> None:
    lines = [b"MKTAYIAKQR\n"] * COUNT
    lines[BAD - 1] = b"MKT\xe9AYIAKQR\n"
    text = tmp_path / "seqs.txt"
    text.write_bytes(b"".join(lines))
    assert [(r.id, r.error) for r in read_records(host, "protein", text) if r.error] == [("2501", "not UTF-8 text: byte 0xE9 at character 4 of line 2,501")]

    table = tmp_path / "seqs.csv"
    table.write_bytes(b"id,sequence,location\n" + b"".join(b"p%d,MKV,Nucleus\n" % n if n != BAD else b"p2501,MK\xe9V,Nucleus\n" for n in range(1, COUNT + 1)))
    records = list(read_records(host, "protein", table, {"target_column": "location"}))
    assert len(records) == COUNT and [(r.id, r.error) for r in records if r.error] == [("p2501", "not UTF-8 text: byte 0xE9 at character 3 of column 'sequence'")]

    stack = tmp_path / "seqs.h5"
    names = [b"p%d" % n for n in range(1, COUNT + 1)]
    names[BAD - 1] = b"p\xe9"
    with h5py.File(stack, "w") as out:
        sequences = out.create_dataset("sequences", data=np.array(["MKV"] * COUNT, dtype=object), dtype=h5py.string_dtype(), chunks=(100,), compression="gzip")
        out.create_dataset("names", data=np.array(names))
        damaged = sequences.id.get_chunk_info(10)  # rows 1000..1099
    with open(stack, "r+b") as handle:  # break the zlib header of that chunk
        handle.seek(damaged.byte_offset)
        handle.write(bytes(b ^ 0xFF for b in handle.read(4)))
        handle.seek(damaged.byte_offset)
    records = list(read_records(host, "protein", stack, {"id_column": "names"}))
    assert len(records) == COUNT
    bad = {r.id: r.error for r in records if r.error}
    assert sorted(bad) == sorted([f"p{n}" for n in range(1001, 1101)] + ["p\ufffd"])
    assert bad["p1001"].startswith("row 1000 of dataset 'sequences' cannot be read")
    assert bad["p\ufffd"] == "not UTF-8 text: byte 0xE9 at character 2 of dataset 'names'"
