"""Protein chains of PDB and mmCIF files, and their residue contacts.

Only what contact maps need: the first model, each chain's amino-acid residues in file order with
their one-letter code and Cβ position (Cα for glycine; a residue without it is NaN), alternate
locations other than the first left out. Contacts are Cβ pairs closer than 8 Å, as ESM defines them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sciformer.errors import InputFileError

THREE_TO_ONE = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G", "HIS": "H", "ILE": "I",
    "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
    "MSE": "M", "SEC": "U", "PYL": "O",
}
CONTACT_ANGSTROM = 8.0


@dataclass(frozen=True)
class Chain:
    """One protein chain: its residues' letters and Cβ (Cα for glycine) coordinates, (L, 3)."""

    name: str
    sequence: str
    coordinates: np.ndarray


@dataclass(frozen=True)
class Atom:
    """The fields of one atom line that contact maps use."""

    chain: str
    residue: tuple[str, str]  # (number, insertion code)
    residue_name: str
    atom_name: str
    alt: str
    xyz: tuple[float, float, float]


def read_chains(path: str | Path, min_residues: int = 20) -> list[Chain]:
    """The protein chains of a `.pdb` or `.cif` file with at least `min_residues` residues, in file order."""
    path = Path(path)
    if path.suffix.lower() == ".pdb":
        atoms = _pdb_atoms(path)
    elif path.suffix.lower() == ".cif":
        atoms = _cif_atoms(path)
    else:
        raise InputFileError(f"{path}: not a structure file (expected .pdb or .cif)")
    residues: dict[str, dict[tuple[str, str], dict[str, tuple[float, float, float] | str]]] = {}
    for atom in atoms:
        if atom.residue_name not in THREE_TO_ONE or atom.alt not in ("", ".", "?", "A", "1"):
            continue
        residue = residues.setdefault(atom.chain, {}).setdefault(atom.residue, {"name": atom.residue_name})
        residue.setdefault(atom.atom_name, atom.xyz)
    chains = []
    for name, entries in residues.items():
        letters = [THREE_TO_ONE[str(r["name"])] for r in entries.values()]
        points = [r.get("CA" if r["name"] == "GLY" else "CB", r.get("CA", (np.nan,) * 3)) for r in entries.values()]
        if len(letters) >= min_residues:
            chains.append(Chain(f"{path.stem}_{name}", "".join(letters), np.asarray(points, dtype=np.float64)))
    return chains


def contact_map(chain: Chain, threshold: float = CONTACT_ANGSTROM) -> np.ndarray:
    """(L, L) booleans: Cβ pairs closer than `threshold` Å (False where a position is missing)."""
    distance = np.linalg.norm(chain.coordinates[:, None, :] - chain.coordinates[None, :, :], axis=-1)
    return np.nan_to_num(distance, nan=np.inf) < threshold


def _pdb_atoms(path: Path) -> list[Atom]:
    atoms = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("ENDMDL"):
            break  # first model only
        if line.startswith(("ATOM  ", "HETATM")):
            xyz = (float(line[30:38]), float(line[38:46]), float(line[46:54]))
            atoms.append(Atom(line[21], (line[22:26].strip(), line[26].strip()), line[17:20].strip(), line[12:16].strip(), line[16].strip(), xyz))
    return atoms


def _cif_atoms(path: Path) -> list[Atom]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    fields: list[str] = []
    atoms = []
    for index, line in enumerate(lines):
        if line.startswith("_atom_site."):
            fields.append(line.split()[0][len("_atom_site."):])
        elif fields and line.startswith(("ATOM", "HETATM")):
            values = dict(zip(fields, shlex.split(line)))
            if values.get("pdbx_PDB_model_num", "1") != "1":
                break
            xyz = (float(values["Cartn_x"]), float(values["Cartn_y"]), float(values["Cartn_z"]))
            residue = (values.get("auth_seq_id", values["label_seq_id"]), values.get("pdbx_PDB_ins_code", "?"))
            chain = values.get("auth_asym_id", values["label_asym_id"])
            atoms.append(Atom(chain, residue, values["label_comp_id"], values["label_atom_id"], values.get("label_alt_id", "."), xyz))
        elif fields and atoms and (line.startswith(("#", "loop_", "_")) or not line.strip()):
            break
    return atoms
