"""Scoring new molecules: SMILES tables without the label, `id` columns as ids, SDF coordinates used as given."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem
from sciformer.checkpoint import read_checkpoint_info
from sciformer.errors import ConfigError
from sciformer.reader_options import inference_options
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer_molecule.cache import ConformerCache
from sciformer_molecule.examples import ETHANOL_MOL_BLOCK
from sciformer_molecule.featurize import featurize
from sciformer_molecule.options import MoleculeOptions

DATA = Path(__file__).resolve().parents[1] / "data"
MOLECULES = {"aspirin": "CC(=O)Oc1ccccc1C(=O)O", "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "propanol": "CCCO"}


def conformer_sdf(path: Path, seed: int = 7) -> Path:
    """An SDF of MOLECULES with hydrogens and one ETKDG conformer each (not the plugin's seed, not relaxed)."""
    with Chem.SDWriter(str(path)) as writer:
        for name, smiles in MOLECULES.items():
            mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
            AllChem.EmbedMolecule(mol, randomSeed=seed)
            mol.SetProp("_Name", name)
            writer.write(mol)
    return path


def predictions(path: Path) -> np.ndarray:
    with h5py.File(path) as results:
        assert list(results["status"][:]) == [0] * results["status"].shape[0]
        return np.asarray(results["prediction"][:], dtype=np.float64).reshape(results["status"].shape[0], -1)


def test_a_smiles_only_table_scores_and_its_ids_are_used(host, tmp_path: Path) -> None:
    """`mat-esol-small` on a table without `logS`: every molecule scores, named by the `id` column."""
    path = tmp_path / "new.csv"
    path.write_text("id,smiles\nbenzonitrile,N#Cc1ccccc1\nethanol,CCO\n")
    summary = score("mat-esol-small", path, tmp_path / "new.h5", host)
    assert (summary.scored, summary.bad) == (2, 0)
    with h5py.File(tmp_path / "new.h5") as results:
        assert list(results["record_id"].asstr()[:]) == ["benzonitrile", "ethanol"]
    smiles_only = tmp_path / "smiles.csv"
    smiles_only.write_text("smiles\nN#Cc1ccccc1\nCCO\n")
    score("mat-esol-small", smiles_only, tmp_path / "smiles.h5", host)
    assert np.array_equal(predictions(tmp_path / "smiles.h5"), predictions(tmp_path / "new.h5"))


def test_the_label_column_is_used_when_present(host, tmp_path: Path) -> None:
    """The shipped sample's `logS` column becomes the targets, blank cells no target."""
    path = tmp_path / "labelled.csv"
    path.write_text("smiles,logS\nN#Cc1ccccc1,-1.0\nCCO,\n")
    info = read_checkpoint_info(host.shipped_models()["mat-esol-small"].path)
    assert [(r.target, r.error) for r in read_records(host, "molecule", path, inference_options(host, info, path))] == [("-1.0", None), (None, None)]


def test_sdf_coordinates_are_used_by_default(host, tmp_path: Path) -> None:
    """A 3D conformer in an SDF is featurized as given; `geometry=embed` re-embeds it as its SMILES would be."""
    sdf = conformer_sdf(tmp_path / "given.sdf")
    score("mat-esol-small", sdf, tmp_path / "given.h5", host)
    score("mat-esol-small", sdf, tmp_path / "embedded.h5", host, options={"geometry": "embed"})
    smi = tmp_path / "same.smi"
    smi.write_text("".join(f"{smiles} {name}\n" for name, smiles in MOLECULES.items()))
    score("mat-esol-small", smi, tmp_path / "smiles.h5", host)
    given, embedded = predictions(tmp_path / "given.h5"), predictions(tmp_path / "embedded.h5")
    assert np.abs(given - embedded).max() > 1e-3
    assert np.array_equal(embedded, predictions(tmp_path / "smiles.h5"))
    with pytest.raises(ConfigError, match="geometry must be one of"):
        score("mat-esol-small", sdf, tmp_path / "bad.h5", host, options={"geometry": "crystal"})


def test_flat_blocks_are_embedded_and_3d_blocks_kept() -> None:
    """A MOL block with z = 0 throughout is a drawing: it is embedded; one with depth keeps its coordinates."""
    flat = featurize("ethanol", ETHANOL_MOL_BLOCK, MoleculeOptions(), ConformerCache(), 16)
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=3)
    deep = featurize("ethanol", Chem.MolToMolBlock(mol), MoleculeOptions(), ConformerCache(), 16)
    positions = Chem.RemoveHs(mol).GetConformer().GetPositions()
    assert flat.geometry == "3d" and deep.geometry == "input"
    assert np.isclose(deep.distances[1, 3], np.linalg.norm(positions[0] - positions[2]), atol=1e-3)  # MOL blocks keep 4 decimals
