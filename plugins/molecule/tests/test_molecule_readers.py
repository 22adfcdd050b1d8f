"""Readers: SMILES tables, .smi files and SDF files with properties and coordinates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.reading import read_records
from sciformer_molecule.examples import ETHANOL_MOL_BLOCK

SDF = ETHANOL_MOL_BLOCK + "> <name>\nEtOH\n\n> <logS>\n1.10\n\n$$$$\n" + "broken\n  no counts line\n\n$$$$\n" + ETHANOL_MOL_BLOCK.replace("ethanol", "") + "> <logS>\n1.2\n\n$$$$\n"


def test_csv_reader_uses_columns(host, tmp_path: Path) -> None:
    """`data_column`, `target_column` and `id_column`; an empty target marks the record bad."""
    path = tmp_path / "set.csv"
    path.write_text("name,smiles,y\na,CCO,1.5\nb,c1ccccc1,\n")
    records = list(read_records(host, "molecule", path, {"id_column": "name", "target_column": "y"}))
    assert [(r.id, r.data, r.target, r.error) for r in records] == [("a", "CCO", "1.5", None), ("b", "c1ccccc1", None, "empty 'y' value")]
    with pytest.raises(InputFileError, match="not found"):
        list(read_records(host, "molecule", path, {"data_column": "SMILES"}))


def test_smi_reader(host, tmp_path: Path) -> None:
    """`SMILES name` lines; unnamed lines get their line number."""
    path = tmp_path / "set.smi"
    path.write_text("CCO ethanol\n# comment\nc1ccccc1\n")
    assert [(r.id, r.data) for r in read_records(host, "molecule", path)] == [("ethanol", "CCO"), ("3", "c1ccccc1")]
    for title in ("SMILES Name", "\ufeffsmiles\tid"):  # a title line, with or without a byte-order mark
        path.write_text(f"{title}\nCCO ethanol\nc1ccccc1\n")
        assert [(r.id, r.data) for r in read_records(host, "molecule", path)] == [("ethanol", "CCO"), ("3", "c1ccccc1")]
    path.write_text("CCO ethanol\nSMILES x\n")  # past the first line, a molecule (here a bad one)
    assert [r.id for r in read_records(host, "molecule", path)] == ["ethanol", "x"]


def test_sdf_reader_keeps_blocks_and_properties(host, tmp_path: Path) -> None:
    """Titles are ids, SD properties are targets, a block without `M  END` is a bad record."""
    path = tmp_path / "set.sdf"
    path.write_text(SDF)
    records = list(read_records(host, "molecule", path, {"target_column": "logS"}))
    assert [r.id for r in records] == ["ethanol", "broken", "3"]
    assert records[0].target == "1.10" and records[0].data.rstrip().endswith("M  END")
    assert records[1].error == "SDF entry has no 'M  END' line"
    named = list(read_records(host, "molecule", path, {"id_column": "name"}))
    assert named[0].id == "EtOH" and named[2].error == "SD property 'name' is missing"


def test_sdf_coordinates_reach_the_model(host, tmp_path: Path) -> None:
    """With geometry 'input' the distances are those of the file."""
    path = tmp_path / "one.sdf"
    path.write_text(ETHANOL_MOL_BLOCK + "$$$$\n")
    config = ModelConfig(domain="molecule", position="none", domain_options={"geometry": "input", "dummy_node": False})
    batch = host.tokenizer(config)(list(read_records(host, "molecule", path)))
    c1, o = torch.tensor([-0.8883, 0.1670, 0.0]), torch.tensor([1.4224, 0.5464, 0.0])
    assert torch.isclose(batch.extras["distances"][0, 0, 2], torch.linalg.norm(c1 - o), atol=1e-4)


COUNT = 3000
BAD = 2501  # the record (from 1) that holds the fault


def test_a_byte_that_is_not_utf8_spoils_only_its_record(host, tmp_path: Path) -> None:
    """In a table, a .smi file and an SDF file, record 2,501 of 3,000 holds a latin-1 byte."""
    table = tmp_path / "set.csv"
    table.write_bytes(b"name,smiles,y\n" + b"".join(b"m%d,CCO,1.5\n" % n if n != BAD else b"m2501,CC\xe9O,1.5\n" for n in range(1, COUNT + 1)))
    smi = tmp_path / "set.smi"
    smi.write_bytes(b"".join(b"CCO m%d\n" % n if n != BAD else b"CCO m\xe9\n" for n in range(1, COUNT + 1)))
    sdf = tmp_path / "set.sdf"
    block = ETHANOL_MOL_BLOCK.encode() + b"> <name>\nm%d\n\n$$$$\n"
    sdf.write_bytes(b"".join(block % n if n != BAD else block.replace(b"ethanol", b"\xe9thanol") % n for n in range(1, COUNT + 1)))
    cases = [  # (file, reader options, the bad record's id and error)
        (table, {"id_column": "name", "target_column": "y"}, "m2501", "not UTF-8 text: byte 0xE9 at character 3 of column 'smiles'"),
        (smi, {}, "m\ufffd", "not UTF-8 text: byte 0xE9 at character 6 of line 2,501"),
        (sdf, {"id_column": "name"}, "m2501", "not UTF-8 text: byte 0xE9 at character 1 of line 1 of the entry"),
    ]
    for path, options, bad_id, reason in cases:
        records = list(read_records(host, "molecule", path, options))
        assert len(records) == COUNT and all(r.data for r in records[: BAD - 1])
        assert [(r.id, r.error) for r in records if r.error] == [(bad_id, reason)], path.name
