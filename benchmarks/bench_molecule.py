"""Molecules: SMILES to prediction end to end, the molecule plugin against the published MAT written out here.

    .venv/bin/python benchmarks/bench_molecule.py [--molecules 1000] [--sizes small,published] [--repeats 2] [--workers 2] [--threads 1]

Input: the first 1,000 SMILES of the shared ESOL set, topped up from BBBP with the rows RDKit parses
(a clone without `../shared/data` beside it uses the plugin's shipped ESOL splits, 958 molecules).

The reference is the Molecule Attention Transformer as published, done the straightforward way, one
molecule at a time: RDKit parse, hydrogens added, one ETKDG conformer, UFF relaxation, hydrogens
dropped (2D depiction coordinates when embedding fails), atom features as one-hot lists, adjacency with
self-loops and a numpy distance matrix, a dummy node first; then batches of 32 in file order padded with
numpy, and a plain PyTorch MAT: per layer and per head `(la softmax(QK^T/sqrt(d)) + ld exp(-D) +
lg A/rowsum) V` with the structural terms repeated over the heads, pre-norm sublayers with MAT's norm
`a (x - mean) / (std + 1e-6) + b`, `leaky_relu` feed-forward, mean over atoms, one linear output. Two
choices make both sides build the same conformer, so outputs can be compared: the atoms are put in
canonical order (the plugin does this so a molecule always gives the same tokens) and ETKDG gets the
plugin's seed and iteration limit.

sciformer: the reference's state dict converted by the plugin's importer (`sciformer import mat`),
then (a) `sciformer.scoring.score_chunk` in this process and (b) the `score` pipeline with `--workers`
featurizing processes and its default chunks (each split across the workers), HDF5 output included. "Cold" means an empty conformer
cache (a fresh tokenizer; for (b) a fresh `SCIFORMER_MOLECULE_CACHE` folder), so every molecule is
embedded; "warm" reuses the cache of a cold run (in-process LRU for (a), the folder for (b)), as when
the same molecules are scored again with another model. Sides alternate; best of `--repeats`.
Molecules per second; max abs difference of the predictions. Target: at least 3x. On a machine shared
with other jobs, `--threads 1` gives steadier figures (see NOTES.md).

Sizes: `small` has the shipped `mat-esol-small` dims (dim 64, 4 layers, 4 heads), `published` the
published pretrained MAT (dim 1024, 8 layers, 16 heads).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from common import machine, ratio_line
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, rdDepictor, rdDistGeom
from sciformer.checkpoint import load_checkpoint
from sciformer.inference import DEFAULT_BATCH_TOKENS
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer.scoring import score, score_chunk
from sciformer_molecule.cache import CACHE_ENV, ConformerCache
from sciformer_molecule.mat_import import import_mat
from sciformer_molecule.tokenizer import MoleculeTokenizer
from torch import Tensor, nn

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "molecules"
SHIPPED = Path(__file__).resolve().parents[1] / "plugins" / "molecule" / "data" / "esol"  # ESOL, 958 molecules in 3 splits
SIZES = {"small": (64, 4, 4), "published": (1024, 8, 16)}  # dim, layers, heads
LAMBDAS = (0.33, 0.33, 0.34)  # attention, distance, adjacency: the published values
SLOPE = 0.1  # leaky_relu slope of the published feed-forward
SEED, EMBED_ITERATIONS = 42, 200  # the plugin's ETKDG defaults (conformer_seed, embed_attempts)
FAR = 1e6  # distance to the dummy node
REFERENCE_BATCH = 32


# -- input ------------------------------------------------------------------------------------------


def load_shipped_smiles(count: int) -> list[str]:
    """The molecule plugin's shipped ESOL splits (train, valid, test) in order, up to `count`."""
    smiles: list[str] = []
    for split in ("train", "valid", "test"):
        with open(SHIPPED / f"{split}.csv", newline="") as handle:
            smiles.extend(row["smiles"] for row in csv.DictReader(handle))
    return smiles[:count]


def load_smiles(count: int, folder: Path = DATA) -> list[str]:
    """ESOL's SMILES in file order, then BBBP rows that RDKit parses, up to `count`."""
    with open(folder / "esol.csv", newline="") as handle:
        smiles = [row["smiles"] for row in csv.DictReader(handle)]
    with open(folder / "bbbp.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if len(smiles) >= count:
                break
            if Chem.MolFromSmiles(row["smiles"]) is not None:
                smiles.append(row["smiles"])
    return smiles[:count]


# -- the reference: featurization ---------------------------------------------------------------------


def one_hot(value: int, choices: list[int]) -> list[float]:
    """MAT's encoding: a value outside `choices` counts as the last one."""
    value = value if value in choices else choices[-1]
    return [float(value == choice) for choice in choices]


def atom_features(atom: Chem.Atom) -> list[float]:
    """27 features: element, heavy degree, hydrogens, formal charge (one-hot), ring, aromatic."""
    return (one_hot(atom.GetAtomicNum(), [5, 6, 7, 8, 9, 15, 16, 17, 35, 53, 999])
            + one_hot(len(atom.GetNeighbors()), [0, 1, 2, 3, 4, 5])
            + one_hot(atom.GetTotalNumHs(), [0, 1, 2, 3, 4])
            + one_hot(atom.GetFormalCharge(), [-1, 0, 1])
            + [float(atom.IsInRing()), float(atom.GetIsAromatic())])


def positions(mol: Chem.Mol) -> np.ndarray:
    """Heavy-atom coordinates (N, 3): ETKDG + UFF on the molecule with hydrogens, else 2D depiction."""
    with_h = Chem.AddHs(mol)
    params = rdDistGeom.ETKDGv3()
    params.randomSeed, params.maxIterations = SEED, EMBED_ITERATIONS
    status = rdDistGeom.EmbedMolecule(with_h, params)
    if status != 0:
        params.useRandomCoords = True
        status = rdDistGeom.EmbedMolecule(with_h, params)
    if status != 0:
        depiction = Chem.Mol(mol)
        rdDepictor.Compute2DCoords(depiction)
        return depiction.GetConformer().GetPositions()
    if AllChem.UFFHasAllMoleculeParams(with_h):
        AllChem.UFFOptimizeMolecule(with_h)
    return with_h.GetConformer().GetPositions()[: mol.GetNumAtoms()]


def featurize(smiles: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node features (N+1, 28), adjacency (N+1, N+1) and distances (N+1, N+1), the dummy node first."""
    mol = Chem.MolFromSmiles(smiles)
    mol = Chem.MolFromSmiles(Chem.MolToSmiles(mol))  # canonical atom order (see the module docstring)
    count = mol.GetNumAtoms()
    nodes = np.array([atom_features(atom) for atom in mol.GetAtoms()])
    adjacency = np.eye(count)
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        adjacency[i, j] = adjacency[j, i] = 1.0
    xyz = positions(mol)
    distances = np.sqrt(((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(-1))
    features = np.zeros((count + 1, nodes.shape[1] + 1))
    features[0, 0], features[1:, 1:] = 1.0, nodes
    with_dummy_adjacency = np.zeros((count + 1, count + 1))
    with_dummy_adjacency[1:, 1:] = adjacency
    with_dummy_distances = np.full((count + 1, count + 1), FAR)
    with_dummy_distances[1:, 1:] = distances
    return features, with_dummy_adjacency, with_dummy_distances


def pad_batch(graphs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[Tensor, Tensor, Tensor]:
    """Zero-pad a batch to its largest molecule: features (B, N, F), adjacency and distances (B, N, N)."""
    size = max(features.shape[0] for features, _, _ in graphs)
    features = np.zeros((len(graphs), size, graphs[0][0].shape[1]), dtype=np.float32)
    adjacency = np.zeros((len(graphs), size, size), dtype=np.float32)
    distances = np.zeros((len(graphs), size, size), dtype=np.float32)
    for row, (f, a, d) in enumerate(graphs):
        n = f.shape[0]
        features[row, :n], adjacency[row, :n, :n], distances[row, :n, :n] = f, a, d
    return torch.from_numpy(features), torch.from_numpy(adjacency), torch.from_numpy(distances)


# -- the reference: model ---------------------------------------------------------------------------


class MatNorm(nn.Module):
    """a * (x - mean) / (unbiased std + 1e-6) + b."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.a_2 = nn.Parameter(1.0 + 0.2 * torch.randn(dim))  # perturbed, so the norm mapping matters
        self.b_2 = nn.Parameter(0.1 * torch.randn(dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.a_2 * (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-6) + self.b_2


class MatAttention(nn.Module):
    """Per head: (la softmax(QK^T / sqrt(dk)) + ld exp(-D) + lg A / rowsum) V over real atoms."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.linears = nn.ModuleList(nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: Tensor, mask: Tensor, adjacency: Tensor, distances: Tensor) -> Tensor:
        batch, atoms, dim = x.shape
        dk = dim // self.heads
        q, k, v = (linear(x).view(batch, atoms, self.heads, dk).transpose(1, 2) for linear in self.linears[:3])  # (B, H, N, dk)
        scores = (q @ k.transpose(-2, -1) / math.sqrt(dk)).masked_fill(~mask[:, None, None, :], -1e12)
        p_attn = scores.softmax(dim=-1)  # (B, H, N, N)
        p_dist = torch.exp(-distances.masked_fill(~mask[:, None, :], math.inf))[:, None].repeat(1, self.heads, 1, 1)
        p_adj = (adjacency / (adjacency.sum(-1, keepdim=True) + 1e-6))[:, None].repeat(1, self.heads, 1, 1)
        la, ld, lg = LAMBDAS
        weighted = la * p_attn + ld * p_dist + lg * p_adj
        return self.linears[3]((weighted @ v).transpose(1, 2).reshape(batch, atoms, dim))


class MatLayer(nn.Module):
    """x + attention(norm(x)); x + leaky_relu(W norm(x) + b)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.self_attn = MatAttention(dim, heads)
        self.feed_forward = nn.Module()
        self.feed_forward.linears = nn.ModuleList([nn.Linear(dim, dim)])
        self.sublayer = nn.ModuleList(nn.Module() for _ in range(2))
        for sublayer in self.sublayer:
            sublayer.norm = MatNorm(dim)

    def forward(self, x: Tensor, mask: Tensor, adjacency: Tensor, distances: Tensor) -> Tensor:
        x = x + self.self_attn(self.sublayer[0].norm(x), mask, adjacency, distances)
        return x + F.leaky_relu(self.feed_forward.linears[0](self.sublayer[1].norm(x)), SLOPE)


class Mat(nn.Module):
    """Atom embedding -> layers -> norm -> mean over real atoms (dummy included) -> linear; MAT's parameter names."""

    def __init__(self, dim: int, layers: int, heads: int, d_atom: int = 28) -> None:
        super().__init__()
        self.src_embed = nn.Module()
        self.src_embed.lut = nn.Linear(d_atom, dim)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(MatLayer(dim, heads) for _ in range(layers))
        self.encoder.norm = MatNorm(dim)
        self.generator = nn.Module()
        self.generator.proj = nn.Linear(dim, 1)
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)  # as the published make_model

    def forward(self, features: Tensor, adjacency: Tensor, distances: Tensor) -> Tensor:
        mask = features.abs().sum(-1) != 0  # (B, N): MAT's mask, any non-zero feature
        x = self.src_embed.lut(features)
        for layer in self.encoder.layers:
            x = layer(x, mask, adjacency, distances)
        x = self.encoder.norm(x)
        weights = mask[..., None].float()
        return self.generator.proj((x * weights).sum(1) / weights.sum(1))[:, 0]


def run_reference(model: Mat, smiles: list[str]) -> np.ndarray:
    """Predictions of the reference, SMILES to numbers, batches of 32 in file order."""
    graphs = [featurize(s) for s in smiles]
    predictions = []
    with torch.inference_mode():
        for first in range(0, len(graphs), REFERENCE_BATCH):
            predictions.append(model(*pad_batch(graphs[first : first + REFERENCE_BATCH])))
    return torch.cat(predictions).numpy()


# -- sciformer ----------------------------------------------------------------------------------------


@dataclass
class Sciformer:
    """The imported checkpoint, its model, the records and a CSV of them for the pipeline."""

    checkpoint: Path
    host: PluginHost
    records: list[Record]
    table: Path
    workers: int
    batch_tokens: int

    def __post_init__(self) -> None:
        self.net = load_checkpoint(self.checkpoint, self.host).eval()
        self.tokenizer = MoleculeTokenizer(self.net.config, cache=ConformerCache())

    def in_process(self, cold: bool, count: int | None = None) -> np.ndarray:
        """score_chunk in this process (the first `count` records); `cold` starts from an empty conformer cache."""
        if cold:
            self.tokenizer = MoleculeTokenizer(self.net.config, cache=ConformerCache())
        columns, _ = score_chunk(self.net, self.tokenizer, self.records[:count], batch_tokens=self.batch_tokens)
        return np.asarray(columns["prediction"], dtype=np.float32).reshape(-1)

    def pipeline(self, cache: Path, output: Path) -> np.ndarray:
        """The `score` pipeline with worker processes, conformers cached in the folder `cache`."""
        os.environ[CACHE_ENV] = str(cache)  # read by the workers' tokenizers
        try:
            score(self.checkpoint, self.table, output, self.host, batch_tokens=self.batch_tokens, workers=self.workers, overwrite=True)
        finally:
            del os.environ[CACHE_ENV]
        with h5py.File(output, "r") as results:
            return np.asarray(results["prediction"][:], dtype=np.float32).reshape(-1)


def timed(run: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    """Seconds and result of one run."""
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def compare(size: str, smiles: list[str], repeats: int, workers: int, batch_tokens: int, folder: Path) -> list[str]:
    """Result lines of one model size: cold and warm cache, in-process and pipeline, against the reference."""
    dim, layers, heads = SIZES[size]
    torch.manual_seed(0)
    reference = Mat(dim, layers, heads).eval()
    weights = folder / f"mat-{size}.pt"
    torch.save(reference.state_dict(), weights)
    host = PluginHost()
    checkpoint = import_mat(weights, folder / f"imported-{size}", host, {"h": str(heads), "leaky_relu_slope": str(SLOPE)})
    table = folder / "molecules.csv"
    with open(table, "w", newline="") as handle:
        csv.writer(handle).writerows([["smiles"], *([s] for s in smiles)])
    ours = Sciformer(checkpoint, host, [Record(str(i), s) for i, s in enumerate(smiles)], table, workers, batch_tokens)
    run_reference(reference, smiles[:16])  # warm-up: first calls of torch and RDKit, on both sides
    ours.in_process(cold=True, count=16)
    times: dict[str, list[float]] = {key: [] for key in ("reference", "cold", "warm", "pipeline cold", "pipeline warm")}
    outputs: dict[str, np.ndarray] = {}
    for repeat in range(repeats):  # alternate the sides, so both see the same machine load
        runs = {
            "reference": lambda: run_reference(reference, smiles),
            "cold": lambda: ours.in_process(cold=True),
            "warm": lambda: ours.in_process(cold=False),
            "pipeline cold": lambda: ours.pipeline(folder / f"cache-{size}-{repeat}", folder / "cold.h5"),  # noqa: B023
            "pipeline warm": lambda: ours.pipeline(folder / f"cache-{size}-{repeat}", folder / "warm.h5"),  # noqa: B023
        }
        for key, run in runs.items():
            seconds, outputs[key] = timed(run)
            times[key].append(seconds)
    rate = {key: len(smiles) / min(values) for key, values in times.items()}
    diff = {key: float(np.abs(outputs[key] - outputs["reference"]).max()) for key in outputs}
    scale = float(np.abs(outputs["reference"]).max())
    label = f"MAT {size} (dim {dim}, {layers} layers, {heads} heads), {len(smiles)} molecules"
    return [
        ratio_line(f"{label}, cold cache, score_chunk in-process", rate["reference"], rate["cold"], "mol/s", f"(target 3x); max |prediction diff| {diff['cold']:.1e} (max |prediction| {scale:.2f})"),
        ratio_line(f"{label}, cold cache, score pipeline {workers} workers", rate["reference"], rate["pipeline cold"], "mol/s", f"(target 3x); max |prediction diff| {diff['pipeline cold']:.1e}"),
        ratio_line(f"{label}, warm cache, score_chunk in-process", rate["reference"], rate["warm"], "mol/s", f"(target 3x); max |prediction diff| {diff['warm']:.1e}"),
        ratio_line(f"{label}, warm cache, score pipeline {workers} workers", rate["reference"], rate["pipeline warm"], "mol/s", f"(target 3x); max |prediction diff| {diff['pipeline warm']:.1e}"),
    ]


def main() -> None:
    """Print one line per comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molecules", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding esol.csv and bbbp.csv")
    parser.add_argument("--sizes", default="small", help=f"comma-separated, from {list(SIZES)}")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="featurizing processes of the score pipeline")
    parser.add_argument("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS["cpu"], help="sciformer's token budget per batch (the score default on the CPU)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice); 1 is steadier on a machine shared with other jobs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    RDLogger.DisableLog("rdApp.*")  # the reference's RDKit warnings (the plugin silences its own)
    print(machine())
    if (args.data / "esol.csv").is_file() and (args.data / "bbbp.csv").is_file():
        smiles = load_smiles(args.molecules, args.data)
    elif args.data == DATA:  # a clone without the shared data beside it: the plugin's shipped ESOL
        print(f"{DATA} not found: using the molecule plugin's shipped ESOL ({SHIPPED})")
        smiles = load_shipped_smiles(args.molecules)
    else:
        raise SystemExit(f"{args.data}: esol.csv and bbbp.csv not found; pass --data FOLDER")
    canonical = {Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles}
    print(f"{len(smiles)} molecules ({len(canonical)} distinct), {sum(Chem.MolFromSmiles(s).GetNumAtoms() for s in smiles):,} heavy atoms")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes.split(","):
            if size not in SIZES:
                raise SystemExit(f"unknown size {size!r}; known: {list(SIZES)}")
            for line in compare(size, smiles, args.repeats, args.workers, args.batch_tokens, Path(folder)):
                print(line, flush=True)


if __name__ == "__main__":
    main()
