"""Structures, contact maps, and the contact regression fitted on attention features."""

from __future__ import annotations

import numpy as np
import torch
from click.testing import CliRunner
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info
from sciformer.cli.main import build_cli
from sciformer.records import Record
from sciformer_protein.contact_fit import ContactExample, example_scores, fit_contact_regression, pair_mask, precision_at_l
from sciformer_protein.contacts import predict_contacts
from sciformer_protein.structures import contact_map, read_chains

PDB_LINE = "ATOM  {serial:5d} {atom:<4} {name} {chain}{number:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00           C\n"


def _pdb(residues: list[tuple[str, tuple[float, float, float]]], chain: str = "A") -> str:
    """A PDB text with a CA and (but for glycine) a CB per residue, the CB 1 Å from the CA."""
    lines, serial = [], 1
    for number, (name, (x, y, z)) in enumerate(residues, start=1):
        for atom, shift in (("CA", 0.0), ("CB", 1.0)):
            if atom == "CB" and name == "GLY":
                continue
            lines.append(PDB_LINE.format(serial=serial, atom=f" {atom}", name=name, chain=chain, number=number, x=x + shift, y=y, z=z))
            serial += 1
    return "".join(lines) + "ENDMDL\n" + PDB_LINE.format(serial=serial, atom=" CA", name="ALA", chain=chain, number=99, x=0, y=0, z=0)


def test_structures_give_chains_and_cb_contacts(tmp_path) -> None:
    path = tmp_path / "toy.pdb"
    path.write_text(_pdb([("MET", (0, 0, 0)), ("GLY", (3, 0, 0)), ("LYS", (20, 0, 0)), ("HOH", (0, 0, 0))]))
    (chain,) = read_chains(path, min_residues=1)
    assert chain.name == "toy_A" and chain.sequence == "MGK"  # water left out, the second model too
    assert np.allclose(chain.coordinates, [[1, 0, 0], [3, 0, 0], [21, 0, 0]])  # CB, CA of glycine, CB
    assert contact_map(chain).tolist() == [[True, True, False], [True, True, False], [False, False, True]]
    assert read_chains(path) == []  # fewer than 20 residues


def test_mmcif_atoms_are_read_by_their_column_names(tmp_path) -> None:
    header = "loop_\n" + "".join(f"_atom_site.{n}\n" for n in ("group_PDB", "id", "label_atom_id", "label_alt_id", "label_comp_id", "label_asym_id", "label_seq_id", "Cartn_x", "Cartn_y", "Cartn_z", "pdbx_PDB_model_num"))
    atoms = "ATOM 1 CA . GLY A 1 0 0 0 1\nATOM 2 CA . TRP A 2 4 0 0 1\nATOM 3 CB B TRP A 2 9 9 9 1\nATOM 4 CB A TRP A 2 5 0 0 1\n#\n"
    (tmp_path / "toy.cif").write_text("data_toy\n" + header + atoms)
    (chain,) = read_chains(tmp_path / "toy.cif", min_residues=1)
    assert chain.sequence == "GW" and np.allclose(chain.coordinates, [[0, 0, 0], [5, 0, 0]])


def test_regression_beats_the_mean_of_noisy_features_on_a_held_out_case() -> None:
    generator = torch.Generator().manual_seed(0)

    def example(length: int) -> ContactExample:
        contacts = torch.rand(length, length, generator=generator) < 0.1
        contacts = contacts | contacts.T
        signal = contacts.float()[..., None] + 0.5 * torch.randn(length, length, 1, generator=generator)
        noise = 3.0 * torch.randn(length, length, 7, generator=generator)
        return ContactExample("x", torch.cat([signal, noise], -1), contacts)

    head = fit_contact_regression([example(60), example(50)])
    weight = head.regression.weight.detach()
    assert torch.isfinite(weight).all() and torch.isfinite(head.regression.bias).all()
    held_out = example(70)
    regression = precision_at_l(example_scores(held_out, head), held_out.contacts, min_separation=6)
    unsupervised = precision_at_l(example_scores(held_out, None), held_out.contacts, min_separation=6)
    assert regression > 0.8 and regression > unsupervised + 0.3
    assert int(weight.abs().argmax()) == 0


def test_precision_counts_the_top_pairs_far_enough_apart() -> None:
    contacts = torch.zeros(30, 30, dtype=torch.bool)
    contacts[0, 29] = contacts[1, 28] = True
    scores = torch.zeros(30, 30)
    scores[0, 29], scores[1, 28], scores[2, 27], scores[0, 3] = 0.9, 0.8, 0.7, 1.0  # (0, 3) is too close
    assert precision_at_l(scores, contacts, min_separation=24, divisor=10) == 2 / 3
    assert pair_mask(5, 2).sum() == 6


def test_fit_contacts_stores_a_head_that_contacts_uses(host, imported, tmp_path) -> None:
    folder = tmp_path / "structures"
    folder.mkdir()
    points = [(3.8 * i, 8.0 * np.sin(i / 2), 0.0) for i in range(24)]
    for name in ("one", "two"):
        (folder / f"{name}.pdb").write_text(_pdb([("ALA", p) for p in points]))
    out = tmp_path / "with-head"
    cli = CliRunner().invoke(build_cli(host), ["protein", "fit-contacts", "--model", str(imported), "--structures", str(folder), "--hold-out", "two", "--out", str(out)], obj=host, catch_exceptions=False)
    assert cli.exit_code == 0 and "fitted on 1 chain(s)" in cli.stdout
    info = read_checkpoint_info(out)
    assert info.config.option("contact_head") and info.extra["contact_regression"]["fitted_on"] == ["one_A"]
    model = load_checkpoint(out, host)
    probabilities = predict_contacts(model, host.tokenizer(model.config), Record("p", "A" * 24))
    assert probabilities.shape == (24, 24) and np.isfinite(probabilities).all() and (probabilities >= 0).all() and (probabilities <= 1).all()
    refused = CliRunner().invoke(build_cli(host), ["protein", "fit-contacts", "--model", str(imported), "--structures", str(folder), "--hold-out", "three", "--out", str(out)], obj=host)
    assert refused.exit_code != 0 and "no such structure" in refused.output
