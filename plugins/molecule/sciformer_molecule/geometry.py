"""Atom coordinates and inter-atomic distances: ETKDG conformers, force-field relaxation and fallbacks.

`3d` embeds the molecule with hydrogens by ETKDG (v3, fixed seed, so a molecule always gets the same
conformer), relaxes it with a force field (UFF as MAT does, or MMFF; RDKit's default 200 iterations) and keeps the heavy atoms. When
embedding fails (rare: strained cages, some organometallics) the documented fallback applies:
`2d` uses RDKit's 2D depiction coordinates (z = 0; what MAT does), `topological` uses shortest-path
bond counts times a nominal bond length, `none` makes the record bad.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import AllChem, rdDepictor, rdDistGeom

log = logging.getLogger(__name__)

BOND_LENGTH = 1.5  # angstrom per bond for topological distances (a typical single bond)
FAR = 1e6  # distance between unconnected parts and to the dummy node: exp(-FAR) and softmax weights vanish


class EmbeddingFailed(Exception):
    """A conformer could not be made and no fallback applies."""


@dataclass(frozen=True)
class Geometry:
    """Heavy-atom positions (N, 3) in angstrom, or a distance matrix where positions do not exist.

    `kind` says where they came from: "3d", "2d", "topological" or "input".
    """

    kind: str
    coordinates: np.ndarray | None = None
    distances: np.ndarray | None = None

    def distance_matrix(self) -> np.ndarray:
        """(N, N) float32 inter-atomic distances."""
        if self.distances is not None:
            return self.distances.astype(np.float32)
        delta = self.coordinates[:, None, :] - self.coordinates[None, :, :]  # (N, N, 3)
        return np.sqrt((delta.astype(np.float64) ** 2).sum(-1)).astype(np.float32)


def embed_3d(mol: Chem.Mol, seed: int, attempts: int, force_field: str) -> np.ndarray:
    """Heavy-atom coordinates (N, 3) of one ETKDG conformer of `mol`, relaxed by `force_field`.

    Hydrogens are added for embedding and dropped afterwards (they are appended after the heavy
    atoms, so the first N positions are the heavy atoms in `mol`'s order). Raises EmbeddingFailed.
    """
    count = mol.GetNumAtoms()
    with_h = Chem.AddHs(mol)
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = seed
    params.maxIterations = attempts
    params.numThreads = 1
    with rdBase.BlockLogs():
        status = rdDistGeom.EmbedMolecule(with_h, params)
        if status != 0:
            params.useRandomCoords = True  # RDKit's advice for molecules whose eigenvalue embedding fails
            status = rdDistGeom.EmbedMolecule(with_h, params)
        if status != 0:
            raise EmbeddingFailed("ETKDG found no conformer")
        _relax(with_h, force_field)
    positions = with_h.GetConformer().GetPositions()[:count]
    if not np.isfinite(positions).all():
        raise EmbeddingFailed("the conformer has non-finite coordinates")
    return positions.astype(np.float32)


def _relax(mol: Chem.Mol, force_field: str) -> None:
    """Optimise the conformer in place; a molecule the force field cannot type keeps its ETKDG geometry."""
    if force_field == "none":
        return
    try:
        if force_field == "mmff" and AllChem.MMFFHasAllMoleculeParams(mol):
            AllChem.MMFFOptimizeMolecule(mol)
        elif AllChem.UFFHasAllMoleculeParams(mol):
            AllChem.UFFOptimizeMolecule(mol)
        else:
            log.debug("no force-field parameters for %s; keeping the ETKDG geometry", Chem.MolToSmiles(mol))
    except (RuntimeError, ValueError) as error:  # RDKit raises these for untypable atoms
        log.debug("force-field optimisation failed (%s); keeping the ETKDG geometry", error)


def coordinates_2d(mol: Chem.Mol) -> np.ndarray:
    """(N, 3) depiction coordinates with z = 0, computed on a copy of `mol`."""
    copy = Chem.Mol(mol)
    rdDepictor.Compute2DCoords(copy)
    return copy.GetConformer().GetPositions().astype(np.float32)


def topological_distances(mol: Chem.Mol) -> np.ndarray:
    """(N, N) shortest-path bond counts times BOND_LENGTH; FAR between disconnected fragments."""
    hops = Chem.GetDistanceMatrix(mol)
    distances = hops * BOND_LENGTH
    distances[hops >= 1e7] = FAR  # RDKit marks unreachable pairs with 1e8
    return distances.astype(np.float32)


def make_geometry(mol: Chem.Mol, kind: str, fallback: str, seed: int, attempts: int, force_field: str) -> Geometry:
    """The geometry `kind` ("3d", "2d" or "topological") of `mol`, falling back as configured for "3d"."""
    if kind == "3d":
        try:
            return Geometry("3d", coordinates=embed_3d(mol, seed, attempts, force_field))
        except EmbeddingFailed as error:
            if fallback == "none":
                raise
            log.info("3D embedding of %s failed (%s); using %s distances", Chem.MolToSmiles(mol), error, fallback)
            kind = fallback
    if kind == "2d":
        return Geometry("2d", coordinates=coordinates_2d(mol))
    if kind == "topological":
        return Geometry("topological", distances=topological_distances(mol))
    raise ValueError(f"unknown geometry {kind!r}")
