"""Featurization: MAT's atom features, the dummy node, adjacency, distances, geometry choices, errors, cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem
from sciformer.errors import BadRecordError, ConfigError
from sciformer_molecule.cache import ConformerCache
from sciformer_molecule.examples import ETHANOL_MOL_BLOCK
from sciformer_molecule.featurize import feature_count, feature_names, featurize
from sciformer_molecule.geometry import FAR
from sciformer_molecule.options import MoleculeOptions

DEFAULT = MoleculeOptions()


def graph(smiles: str, options: MoleculeOptions = DEFAULT, cache: ConformerCache | None = None, max_tokens: int = 128):
    return featurize("m", smiles, options, cache or ConformerCache(), max_tokens)


def column(options: MoleculeOptions, name: str) -> int:
    return feature_names(options).index(name)


def test_published_feature_layout_has_28_columns() -> None:
    """Dummy flag + 11 elements + 6 degrees + 5 H counts + 3 charges + ring + aromatic."""
    assert feature_count(DEFAULT) == 28 == len(feature_names(DEFAULT))
    assert feature_count(MoleculeOptions(charge_encoding="scalar", dummy_node=False)) == 25
    assert feature_names(DEFAULT)[:3] == ["dummy", "element=B", "element=C"]


def test_atom_features_follow_mat() -> None:
    """Pyridinium N+: element N, degree 2, one H, charge +1, ring, aromatic; the dummy node is token 0."""
    g = graph("c1cc[nH+]cc1")
    nitrogen = next(row for row in g.features[1:] if row[column(DEFAULT, "element=N")] == 1)
    expected = {"element=N", "degree=2", "hydrogens=1", "charge=+1", "in_ring", "aromatic"}
    assert {name for name, value in zip(feature_names(DEFAULT), nitrogen) if value} == expected
    assert g.features[0].tolist() == [1.0] + [0.0] * 27
    assert (g.features[1:, 0] == 0).all()


def test_out_of_list_values_fall_into_the_last_slot() -> None:
    """Selenium is element 'other'; scalar charge keeps -2 as a number."""
    g = graph("[Se-2]", MoleculeOptions(charge_encoding="scalar"))
    options = MoleculeOptions(charge_encoding="scalar")
    assert g.features[1, column(options, "element=other")] == 1
    assert g.features[1, column(options, "charge")] == -2


def test_adjacency_and_dummy_node() -> None:
    """Bonds both ways with self-loops on atoms; the dummy node has no bonds and is 1e6 from everything."""
    g = graph("CCO")  # canonical order C, C, O
    assert g.adjacency.tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]]
    assert (g.distances[0] == FAR).all() and (g.distances[:, 0] == FAR).all()
    atoms = g.distances[1:, 1:]
    assert np.allclose(atoms, atoms.T) and np.allclose(np.diag(atoms), 0)
    assert 1.4 < atoms[0, 1] < 1.6 and 1.35 < atoms[1, 2] < 1.5  # C-C and C-O bond lengths in angstrom
    assert g.geometry == "3d"


def test_same_molecule_same_tokens_whatever_the_smiles() -> None:
    """Atoms are put in canonical order, and the seeded conformer is reproducible."""
    a, b = graph("OC(=O)c1ccccc1OC(C)=O"), graph("CC(=O)Oc1ccccc1C(=O)O")
    assert a.smiles == b.smiles
    assert np.array_equal(a.features, b.features) and np.array_equal(a.adjacency, b.adjacency)
    assert np.allclose(a.distances, b.distances, atol=1e-4)


def test_geometry_choices() -> None:
    """2D coordinates are planar, topological distances count bonds; both keep bonded atoms close."""
    flat = graph("c1ccccc1O", MoleculeOptions(geometry="2d"))
    hops = graph("CCCO", MoleculeOptions(geometry="topological", dummy_node=False))
    assert flat.geometry == "2d" and hops.geometry == "topological"
    assert hops.distances[0].tolist() == [0.0, 1.5, 3.0, 4.5]
    fragments = graph("CC.O", MoleculeOptions(geometry="topological", dummy_node=False))
    assert fragments.distances[0, 2] == FAR


def test_fallback_when_embedding_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed ETKDG embedding falls back to 2D coordinates, or makes a bad record with fallback none."""
    from sciformer_molecule import geometry

    def fail(*args: object) -> np.ndarray:
        raise geometry.EmbeddingFailed("ETKDG found no conformer")

    monkeypatch.setattr(geometry, "embed_3d", fail)
    assert graph("CCO").geometry == "2d"
    assert graph("CCO", MoleculeOptions(fallback="topological")).geometry == "topological"
    with pytest.raises(BadRecordError, match="no 3D conformer"):
        graph("CCO", MoleculeOptions(fallback="none"))


def test_input_coordinates_from_a_mol_block() -> None:
    """geometry 'input' keeps the file's atom order and coordinates."""
    g = featurize("ethanol", ETHANOL_MOL_BLOCK, MoleculeOptions(geometry="input", dummy_node=False), ConformerCache(), 16)
    positions = Chem.MolFromMolBlock(ETHANOL_MOL_BLOCK).GetConformer().GetPositions()
    assert g.geometry == "input"
    assert np.allclose(g.distances[0, 2], np.linalg.norm(positions[0] - positions[2]), atol=1e-5)
    with pytest.raises(BadRecordError, match="needs coordinates"):
        graph("CCO", MoleculeOptions(geometry="input"))


def test_explicit_hydrogens_are_dropped() -> None:
    """A MOL block with hydrogens gives heavy-atom tokens only."""
    mol = Chem.AddHs(Chem.MolFromSmiles("CO"))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    g = featurize("methanol", Chem.MolToMolBlock(mol), MoleculeOptions(geometry="input"), ConformerCache(), 16)
    assert g.num_tokens == 3  # dummy, C, O
    assert g.features[1:, column(DEFAULT, "hydrogens=3")].sum() == 1


@pytest.mark.parametrize(
    ("data", "options", "reason"),
    [
        ("C1CC", DEFAULT, "invalid SMILES"),
        ("not a smiles", DEFAULT, "invalid SMILES"),
        ("", DEFAULT, "empty SMILES"),
        ("*CC", DEFAULT, "unsupported element '\\*'"),
        ("[Se]", MoleculeOptions(strict_elements=True), "unsupported element 'Se'"),
        ("C" * 200, DEFAULT, "exceed the model's limit of 128 tokens"),
        (3.5, DEFAULT, "must be a SMILES or MOL-block string"),
        ("line one\nline two\nM  END\n", DEFAULT, "invalid MOL block"),
        ("[2H][2H]", DEFAULT, None),  # isotopic hydrogens stay as atoms: a valid molecule
    ],
)
def test_bad_records_name_the_reason(data: object, options: MoleculeOptions, reason: str | None) -> None:
    """Bad input raises BadRecordError with a reason; everything else featurizes."""
    if reason is None:
        assert graph(data, options).num_tokens == 3
        return
    with pytest.raises(BadRecordError, match=reason) as error:
        graph(data, options)
    assert error.value.record_id == "m"


def test_each_molecule_is_embedded_once(tmp_path: Path) -> None:
    """The LRU answers repeats (also for another SMILES of the molecule); the disk layer serves a new process."""
    cache = ConformerCache(directory=tmp_path)
    first = graph("CCN", cache=cache)
    graph("NCC", cache=cache)
    assert (cache.computed, cache.hits) == (1, 1)
    fresh = ConformerCache(directory=tmp_path)
    again = graph("CCN", cache=fresh)
    assert (fresh.computed, fresh.hits) == (0, 1)
    assert np.array_equal(first.distances, again.distances)
    small = ConformerCache(max_entries=1)
    graph("CCN", cache=small), graph("CCC", cache=small), graph("CCN", cache=small)
    assert small.computed == 3 and len(small.entries) == 1


def test_options_are_validated() -> None:
    """Unknown options and bad values are named."""
    with pytest.raises(ConfigError, match="unknown molecule domain option"):
        MoleculeOptions.from_mapping({"lamda_attention": 0.5})
    with pytest.raises(ConfigError, match="distance_kernel"):
        MoleculeOptions(distance_kernel="gauss")
    assert MoleculeOptions.from_mapping({"attention_bias": ["mat", "gaussian"]}).attention_bias == ("mat", "gaussian")
    assert MoleculeOptions(lambda_attention=0.5, lambda_distance=0.2).adjacency_weight == pytest.approx(0.3)
