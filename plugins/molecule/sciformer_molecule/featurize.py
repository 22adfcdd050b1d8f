"""Molecules to MAT inputs: per-atom features, adjacency with self-loops, and inter-atomic distances.

Atom features follow the Molecule Attention Transformer (one-hot unless noted; a value outside a
list falls into its last slot, as MAT does):

| columns | feature |
| --- | --- |
| 1 | dummy-node flag (only with a dummy node; 1 for the dummy, 0 for atoms) |
| 11 | element: B, C, N, O, F, P, S, Cl, Br, I, other |
| 6 | heavy-atom degree 0, 1, 2, 3, 4, 5+ |
| 5 | attached hydrogens 0, 1, 2, 3, 4+ |
| 3 or 1 | formal charge: one-hot over -1, 0, +1 (published MAT weights) or the scalar charge |
| 1 | in a ring |
| 1 | aromatic |

The dummy node is token 0: its distance to every atom (and itself) is 1e6, its adjacency row and
column are 0. Atoms are put in canonical order, so one molecule always gives the same tokens however
it was written, except where a MOL block's coordinates are used: those atoms keep the file's order.

Coordinates: a MOL block (or RDKit `Mol`) with 3D coordinates (some z not 0) is featurized on them
when the model's geometry is `3d` (the default) or `input`; a SMILES, a 2D block or a `Reembed`ed block
(reader option `geometry=embed`) is embedded as `geometry` says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase
from sciformer.errors import BadRecordError

from sciformer_molecule.cache import ConformerCache
from sciformer_molecule.geometry import FAR, EmbeddingFailed, Geometry, make_geometry
from sciformer_molecule.options import MoleculeOptions
from sciformer_molecule.reader import Reembed

ELEMENTS = ("B", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I")
ATOMIC_NUMBERS = (5, 6, 7, 8, 9, 15, 16, 17, 35, 53)
DEGREES = (0, 1, 2, 3, 4, 5)
HYDROGENS = (0, 1, 2, 3, 4)
CHARGES = (-1, 0, 1)


def feature_count(options: MoleculeOptions) -> int:
    """Width F of an atom feature vector: 28 for the published MAT layout."""
    charge = len(CHARGES) if options.charge_encoding == "one-hot" else 1
    return int(options.dummy_node) + len(ATOMIC_NUMBERS) + 1 + len(DEGREES) + len(HYDROGENS) + charge + 2


def feature_names(options: MoleculeOptions) -> list[str]:
    """A readable name per feature column, in order."""
    names = ["dummy"] if options.dummy_node else []
    names += [f"element={e}" for e in ELEMENTS] + ["element=other"]
    names += [f"degree={d}" for d in DEGREES] + [f"hydrogens={h}" for h in HYDROGENS]
    names += [f"charge={c:+d}" for c in CHARGES] if options.charge_encoding == "one-hot" else ["charge"]
    return names + ["in_ring", "aromatic"]


@dataclass(frozen=True)
class MoleculeGraph:
    """One featurized molecule with T tokens (atoms, plus the dummy node first when enabled).

    `features` (T, F), `adjacency` (T, T) 0/1 with self-loops on atoms, `distances` (T, T) angstrom;
    `smiles` is the canonical SMILES, `geometry` where the distances came from.
    """

    features: np.ndarray
    adjacency: np.ndarray
    distances: np.ndarray
    smiles: str
    geometry: str

    @property
    def num_tokens(self) -> int:
        """T."""
        return int(self.features.shape[0])


def _one_hot(value: int, choices: tuple[int, ...]) -> list[float]:
    """One-hot over `choices`; a value not among them sets the last slot (MAT's convention)."""
    index = choices.index(value) if value in choices else len(choices) - 1
    return [1.0 if i == index else 0.0 for i in range(len(choices))]


def atom_features(atom: Chem.Atom, options: MoleculeOptions) -> list[float]:
    """The feature vector of one atom (without the dummy-node column)."""
    element = (*ATOMIC_NUMBERS, -1)
    values = _one_hot(atom.GetAtomicNum(), element)
    values += _one_hot(atom.GetDegree(), DEGREES)
    values += _one_hot(atom.GetTotalNumHs(), HYDROGENS)
    if options.charge_encoding == "one-hot":
        values += _one_hot(atom.GetFormalCharge(), CHARGES)
    else:
        values.append(float(atom.GetFormalCharge()))
    values.append(float(atom.IsInRing()))
    values.append(float(atom.GetIsAromatic()))
    return values


def is_mol_block(text: str) -> bool:
    """True for a MOL / SDF block (several lines with a V2000 / V3000 counts line or an END record)."""
    return "\n" in text.strip() and ("M  END" in text or "V2000" in text or "V3000" in text)


def parse_molecule(record_id: str, data: object) -> Chem.Mol:
    """A sanitized RDKit molecule without explicit hydrogens from a SMILES, a MOL block or a Mol
    (a `Reembed`ed block loses its coordinates)."""
    if isinstance(data, Reembed):
        mol = parse_molecule(record_id, data.block)
        mol.RemoveAllConformers()
        return mol
    if isinstance(data, Chem.Mol):
        mol = Chem.Mol(data)
        try:
            Chem.SanitizeMol(mol)
        except (ValueError, RuntimeError) as error:
            raise BadRecordError(record_id, f"molecule fails RDKit sanitization: {error}") from None
    elif isinstance(data, str):
        text = data.strip()
        if not text:
            raise BadRecordError(record_id, "empty SMILES")
        with rdBase.BlockLogs():
            if is_mol_block(data):
                mol = Chem.MolFromMolBlock(data, sanitize=True, removeHs=False)
                if mol is None:
                    raise BadRecordError(record_id, "invalid MOL block: RDKit could not parse or sanitize it")
            else:
                mol = Chem.MolFromSmiles(text)
                if mol is None:
                    raise BadRecordError(record_id, f"invalid SMILES {_short(text)}: RDKit could not parse or sanitize it")
    else:
        raise BadRecordError(record_id, f"a molecule record must be a SMILES or MOL-block string, got {type(data).__name__}")
    with rdBase.BlockLogs():
        mol = Chem.RemoveHs(mol)
    if mol.GetNumAtoms() == 0:
        raise BadRecordError(record_id, "the molecule has no heavy atoms")
    return mol


def check_elements(record_id: str, mol: Chem.Mol, options: MoleculeOptions) -> None:
    """Reject wildcard / query atoms always, and elements outside the one-hot list when strict."""
    for atom in mol.GetAtoms():
        number = atom.GetAtomicNum()
        if number == 0:
            raise BadRecordError(record_id, f"unsupported element {atom.GetSymbol()!r} at atom {atom.GetIdx()}: wildcard or dummy atoms have no chemistry to featurize")
        if options.strict_elements and number not in ATOMIC_NUMBERS:
            raise BadRecordError(record_id, f"unsupported element {atom.GetSymbol()!r} at atom {atom.GetIdx()} (strict_elements: only {', '.join(ELEMENTS)})")


def canonical_order(record_id: str, mol: Chem.Mol) -> tuple[Chem.Mol, str]:
    """The molecule re-read from its canonical SMILES (canonical atom order) and that SMILES."""
    smiles = Chem.MolToSmiles(mol)
    with rdBase.BlockLogs():
        canonical = Chem.MolFromSmiles(smiles)
    if canonical is None:
        raise BadRecordError(record_id, f"the molecule cannot be re-read from its canonical SMILES {_short(smiles)}")
    return canonical, smiles


def featurize(record_id: str, data: object, options: MoleculeOptions, cache: ConformerCache, max_tokens: int) -> MoleculeGraph:
    """One record's molecule -> MoleculeGraph; raises BadRecordError naming the record and the reason."""
    mol = parse_molecule(record_id, data)
    check_elements(record_id, mol, options)
    tokens = mol.GetNumAtoms() + int(options.dummy_node)
    if tokens > max_tokens:
        raise BadRecordError(record_id, f"{mol.GetNumAtoms()} heavy atoms{' + dummy node' if options.dummy_node else ''} exceed the model's limit of {max_tokens} tokens")
    if options.geometry == "input" or (options.geometry == "3d" and has_3d_coordinates(mol)):
        if mol.GetNumConformers() == 0:
            raise BadRecordError(record_id, "geometry 'input' needs coordinates: give a MOL / SDF block (not a SMILES, nor geometry=embed)")
        geometry = Geometry("input", coordinates=mol.GetConformer().GetPositions().astype(np.float32))
        smiles = Chem.MolToSmiles(mol)
    else:
        mol, smiles = canonical_order(record_id, mol)
        key = (smiles, options.geometry, options.fallback, options.conformer_seed, options.embed_attempts, options.force_field)
        try:
            geometry = cache.get(key, lambda: make_geometry(mol, options.geometry, options.fallback, options.conformer_seed, options.embed_attempts, options.force_field))
        except EmbeddingFailed as error:
            raise BadRecordError(record_id, f"no 3D conformer ({error}) and domain_options.fallback is 'none'") from None
    return assemble(mol, geometry, smiles, options)


def has_3d_coordinates(mol: Chem.Mol) -> bool:
    """True when `mol` holds a conformer with some z coordinate not 0 (a 2D drawing has z = 0 throughout)."""
    return mol.GetNumConformers() > 0 and bool(np.abs(mol.GetConformer().GetPositions()[:, 2]).max() > 0)


def assemble(mol: Chem.Mol, geometry: Geometry, smiles: str, options: MoleculeOptions) -> MoleculeGraph:
    """Features, adjacency and distances of `mol`, with the dummy node prepended when enabled."""
    atoms = np.array([atom_features(a, options) for a in mol.GetAtoms()], dtype=np.float32)  # (N, F')
    count = atoms.shape[0]
    adjacency = np.eye(count, dtype=np.float32)
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        adjacency[i, j] = adjacency[j, i] = 1.0
    distances = geometry.distance_matrix()
    if not options.dummy_node:
        return MoleculeGraph(atoms, adjacency, distances, smiles, geometry.kind)
    features = np.zeros((count + 1, atoms.shape[1] + 1), dtype=np.float32)
    features[0, 0] = 1.0
    features[1:, 1:] = atoms
    padded_adjacency = np.zeros((count + 1, count + 1), dtype=np.float32)
    padded_adjacency[1:, 1:] = adjacency
    padded_distances = np.full((count + 1, count + 1), FAR, dtype=np.float32)
    padded_distances[1:, 1:] = distances
    return MoleculeGraph(features, padded_adjacency, padded_distances, smiles, geometry.kind)


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
