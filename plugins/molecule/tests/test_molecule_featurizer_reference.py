"""Parity of the featurization with DeepChem's `MATFeaturizer` (deepchem 2.8.0), a port of MAT's `featurize_mol`.

Both sides featurize the same molecules in the same atom order: sciformer with the published MAT layout
(`charge_encoding: one-hot`, dummy node) and `geometry: topological`; DeepChem on the molecule re-read from
sciformer's canonical SMILES (passed as a `Mol`, which DeepChem does not renumber). Compared exactly: the
dummy node (flag column, row and column), element, degree, hydrogen, charge, ring and aromatic columns,
the adjacency and the distances. The molecules are every row of the shipped `data/*_sample.csv` files
plus a few constructed ones for boron, iodine, silicon, selenium, charges +-2, five and six neighbours.

Known differences, asserted as such:
- values outside a list: MAT (and sciformer) put them in the list's last slot (element "other", degree
  5+, hydrogens 4+, charge +1); DeepChem's `one_hot_encode` (`include_unknown_set=False`) leaves the whole
  block zero, so its element slot 999 is never set. Seen here on Si, Se, a lone proton `[H+]`, a degree-6
  S, and charges +2 / -2 (a -2 charge lands in sciformer's +1 slot, as in MAT).
- charge: sciformer one-hot over -1 / 0 / +1 (3 columns, the published weights); DeepChem over -5..+5
  (11 columns, 36 node columns in all against 28).
- adjacency: sciformer (as MAT) has self-loops on atoms; DeepChem's `Chem.GetAdjacencyMatrix` has none.
- distances: DeepChem's are shortest-path bond counts (`Chem.GetDistanceMatrix`; MAT itself uses the
  conformer's 3D distances), sciformer's topological ones are bond counts x 1.5 A, and 1e6 between
  disconnected fragments where RDKit puts 1e8. The dummy node is 1e6 from everything in both.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem, rdBase
from sciformer_molecule.cache import ConformerCache
from sciformer_molecule.featurize import MoleculeGraph, feature_names, featurize
from sciformer_molecule.geometry import BOND_LENGTH, FAR
from sciformer_molecule.options import MoleculeOptions

DATA = Path(__file__).resolve().parents[1] / "data"
OPTIONS = MoleculeOptions(charge_encoding="one-hot", dummy_node=True, geometry="topological")
EXTRA = [
    "[NH3+]CC(=O)[O-]",  # zwitterion
    "C[N+](C)(C)C.[Cl-]",  # salt: two fragments
    "OB(O)c1ccc(I)cc1",  # boron, iodine
    "C[Si](C)(C)OC",  # silicon: outside the element list
    "c1cc[se]c1",  # aromatic selenium: outside the element list
    "FP(F)(F)(F)F",  # phosphorus with five neighbours: the last degree slot
    "FC(F)(F)S(F)(F)(F)(F)F",  # sulfur with six neighbours: outside the degree list
    "CC[S+2](C)([O-])[O-]",  # charge +2
    "[Se-2]",  # charge -2 on an element outside the list
]

# sciformer's columns (feature_names) and DeepChem's: dummy, 11 elements (5..53, 999), 6 degrees,
# 5 hydrogen counts, 11 charges (-5..+5), ring, aromatic.
NAMES = feature_names(OPTIONS)
ELEMENT = slice(NAMES.index("element=B"), NAMES.index("element=other") + 1)
DEGREE = slice(NAMES.index("degree=0"), NAMES.index("degree=5") + 1)
HYDROGENS = slice(NAMES.index("hydrogens=0"), NAMES.index("hydrogens=4") + 1)
CHARGE = slice(NAMES.index("charge=-1"), NAMES.index("charge=+1") + 1)
RING_AROMATIC = [NAMES.index("in_ring"), NAMES.index("aromatic")]
DC_ELEMENT, DC_DEGREE, DC_HYDROGENS, DC_CHARGE = slice(1, 12), slice(12, 18), slice(18, 23), slice(23, 34)
DC_RING_AROMATIC = [34, 35]
DC_WIDTH = 36


def dc_charge(charge: int) -> int:
    """DeepChem's column of a formal charge in -5..+5."""
    return DC_CHARGE.start + charge + 5


def shipped_smiles() -> list[str]:
    smiles = []
    for name in ("bbbp_sample.csv", "esol_sample.csv", "freesolv_sample.csv"):
        with open(DATA / name, newline="") as handle:
            smiles += [row["smiles"] for row in csv.DictReader(handle)]
    return smiles


MOLECULES = shipped_smiles() + EXTRA


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, MoleculeGraph, object]]:
    """(input SMILES, sciformer graph, DeepChem MATEncoding) per molecule, in the same atom order."""
    from deepchem.feat import MATFeaturizer  # imported here: deepchem's import is slow and loads every submodule
    from deepchem.feat.molecule_featurizers.mat_featurizer import MATEncoding

    reference, cache, result = MATFeaturizer(), ConformerCache(), []
    for smiles in MOLECULES:
        graph = featurize("m", smiles, OPTIONS, cache, 512)
        with rdBase.BlockLogs():  # UFF typer messages for Se, S+2 (DeepChem embeds before featurizing)
            encoding = reference.featurize(Chem.MolFromSmiles(graph.smiles))[0]
        assert isinstance(encoding, MATEncoding), f"DeepChem failed to featurize {smiles}"
        # DeepChem keeps explicit hydrogens when its UFF step raises: then the atoms would not line up
        assert encoding.node_features.shape == (graph.num_tokens, DC_WIDTH), smiles
        result.append((smiles, graph, encoding))
    return result


def mat_last_slot(block: np.ndarray) -> np.ndarray:
    """DeepChem's one-hot rows with MAT's rule: a value outside the list (an all-zero row) takes the last slot."""
    block = block.copy()
    block[block.sum(axis=1) == 0, -1] = 1.0
    return block


def test_molecules_cover_the_features() -> None:
    """The molecules exercise every feature, both charges, several fragments and the out-of-list cases."""
    with rdBase.BlockLogs():  # RDKit notes that it keeps the lone proton of one BBBP molecule
        mols = [Chem.MolFromSmiles(s) for s in MOLECULES]
    atoms = [a for mol in mols for a in mol.GetAtoms()]
    assert len(MOLECULES) > 100
    assert {5, 6, 7, 8, 9, 15, 16, 17, 35, 53} <= {a.GetAtomicNum() for a in atoms}
    assert {1, 14, 34} <= {a.GetAtomicNum() for a in atoms}  # H+ (bbbp), Si, Se: element "other"
    assert {-2, -1, 0, 1, 2} <= {a.GetFormalCharge() for a in atoms}
    assert set(range(7)) <= {a.GetDegree() for a in atoms}
    assert set(range(5)) <= {a.GetTotalNumHs() for a in atoms}
    assert any(a.IsInRing() and not a.GetIsAromatic() for a in atoms) and any(a.GetIsAromatic() for a in atoms)
    assert sum(len(Chem.GetMolFrags(mol)) > 1 for mol in mols) >= 3


def test_atom_features_equal_deepchem_under_mat_rules(pairs) -> None:
    """Every column equals DeepChem's, once an all-zero DeepChem block is read as MAT's last slot."""
    for smiles, graph, encoding in pairs:
        ours, theirs = graph.features, encoding.node_features
        np.testing.assert_array_equal(ours[0], np.eye(1, ours.shape[1])[0], err_msg=smiles)
        np.testing.assert_array_equal(theirs[0], np.eye(1, DC_WIDTH)[0], err_msg=smiles)
        np.testing.assert_array_equal(ours[:, 0], theirs[:, 0], err_msg=smiles)
        atoms, reference = ours[1:], theirs[1:]
        np.testing.assert_array_equal(atoms[:, ELEMENT], mat_last_slot(reference[:, DC_ELEMENT]), err_msg=smiles)
        np.testing.assert_array_equal(atoms[:, DEGREE], mat_last_slot(reference[:, DC_DEGREE]), err_msg=smiles)
        np.testing.assert_array_equal(atoms[:, HYDROGENS], mat_last_slot(reference[:, DC_HYDROGENS]), err_msg=smiles)
        mat_charges = reference[:, dc_charge(-1) : dc_charge(1) + 1]
        np.testing.assert_array_equal(atoms[:, CHARGE], mat_last_slot(mat_charges), err_msg=smiles)
        np.testing.assert_array_equal(atoms[:, RING_AROMATIC], reference[:, DC_RING_AROMATIC], err_msg=smiles)


def test_charges_within_one_equal_deepchem_columns(pairs) -> None:
    """Where every charge is -1, 0 or +1, sciformer's 3 charge columns are DeepChem's -1 / 0 / +1 columns as they are."""
    compared = 0
    for smiles, graph, encoding in pairs:
        if all(-1 <= a.GetFormalCharge() <= 1 for a in Chem.MolFromSmiles(graph.smiles).GetAtoms()):
            reference = encoding.node_features[:, dc_charge(-1) : dc_charge(1) + 1]
            np.testing.assert_array_equal(graph.features[:, CHARGE], reference, err_msg=smiles)
            compared += 1
    assert compared == len(pairs) - 2


def test_out_of_list_values_differ_as_documented(pairs) -> None:
    """MAT's last slot against DeepChem's all-zero block (and its wider charge list)."""
    by_smiles = {smiles: (graph, encoding.node_features) for smiles, graph, encoding in pairs}
    other = NAMES.index("element=other")
    for smiles, symbol in [("C[Si](C)(C)OC", "Si"), ("c1cc[se]c1", "Se"), ("[Se-2]", "Se")]:
        graph, theirs = by_smiles[smiles]
        row = 1 + next(a.GetIdx() for a in Chem.MolFromSmiles(graph.smiles).GetAtoms() if a.GetSymbol() == symbol)
        assert graph.features[row, ELEMENT].tolist() == [0.0] * 10 + [1.0]
        assert graph.features[row, other] == 1 and not theirs[row, DC_ELEMENT].any()
    proton = next(s for s in MOLECULES if "[H+]" in s)
    graph, theirs = by_smiles[proton]
    rows = [1 + a.GetIdx() for a in Chem.MolFromSmiles(graph.smiles).GetAtoms() if a.GetAtomicNum() == 1]
    assert len(rows) == 1 and graph.features[rows[0], other] == 1 and not theirs[rows[0], DC_ELEMENT].any()
    graph, theirs = by_smiles["FC(F)(F)S(F)(F)(F)(F)F"]
    sulfur = 1 + next(a.GetIdx() for a in Chem.MolFromSmiles(graph.smiles).GetAtoms() if a.GetSymbol() == "S")
    assert graph.features[sulfur, NAMES.index("degree=5")] == 1 and not theirs[sulfur, DC_DEGREE].any()
    for smiles, charge in [("CC[S+2](C)([O-])[O-]", 2), ("[Se-2]", -2)]:
        graph, theirs = by_smiles[smiles]
        row = 1 + next(a.GetIdx() for a in Chem.MolFromSmiles(graph.smiles).GetAtoms() if a.GetFormalCharge() == charge)
        assert graph.features[row, CHARGE].tolist() == [0.0, 0.0, 1.0]  # MAT: a charge outside -1..1 is "+1"
        assert theirs[row, dc_charge(charge)] == 1 and theirs[row, DC_CHARGE].sum() == 1


def test_adjacency_is_deepchem_plus_self_loops(pairs) -> None:
    for smiles, graph, encoding in pairs:
        theirs = encoding.adjacency_matrix
        assert not np.diag(theirs).any(), smiles
        loops = np.diag([0.0] + [1.0] * (graph.num_tokens - 1))
        np.testing.assert_array_equal(graph.adjacency, theirs + loops, err_msg=smiles)


def test_topological_distances_are_deepchem_bond_counts_times_bond_length(pairs) -> None:
    """Dummy node 1e6 in both; atoms: sciformer = 1.5 A x DeepChem's bond count, and 1e6 where RDKit puts 1e8."""
    disconnected = 0
    for smiles, graph, encoding in pairs:
        ours, theirs = graph.distances, encoding.distance_matrix
        for matrix in (ours, theirs):
            assert (matrix[0] == FAR).all() and (matrix[:, 0] == FAR).all(), smiles
        hops = theirs[1:, 1:]
        unreachable = hops == 1e8
        assert np.array_equal(hops[~unreachable], np.round(hops[~unreachable])), smiles
        expected = np.where(unreachable, FAR, hops * BOND_LENGTH)
        np.testing.assert_array_equal(ours[1:, 1:], expected, err_msg=smiles)
        disconnected += bool(unreachable.any())
    assert disconnected >= 3
