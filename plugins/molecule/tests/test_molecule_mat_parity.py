"""Parity of `sciformer import mat` with an independent re-implementation of MAT's published equations.

The reference below is written from the paper's equations and the reference layout of parameter
names (so its state dict is what the importer reads); it shares no code with the plugin.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from rdkit import Chem
from rdkit.Chem import AllChem
from sciformer.checkpoint import load_checkpoint
from sciformer.errors import ConfigError, InputFileError
from sciformer.records import Record
from sciformer.scoring import score
from sciformer_molecule.mat_import import MatHyperparameters, import_mat, mat_config
from torch import Tensor, nn

MOLECULES = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "CCO", "[NH3+]CC(=O)[O-]", "c1ccc2ccccc2c1Cl"]


class ReferenceNorm(nn.Module):
    """a * (x - mean) / (unbiased std + 1e-6) + b."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.a_2 = nn.Parameter(1.0 + 0.2 * torch.randn(dim))
        self.b_2 = nn.Parameter(0.1 * torch.randn(dim))

    def forward(self, x: Tensor) -> Tensor:
        centred = x - x.mean(-1, keepdim=True)
        return self.a_2 * centred / (x.std(-1, keepdim=True) + 1e-6) + self.b_2


class ReferenceAttention(nn.Module):
    """lambda_a softmax(QK^T/sqrt(dk)) + lambda_d g(D) + lambda_g A/rowsum, per head, over real atoms."""

    def __init__(self, dim: int, heads: int, lambdas: tuple[float, float, float], kernel: str) -> None:
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(dim, dim) for _ in range(4))
        self.heads, self.lambdas, self.kernel = heads, lambdas, kernel

    def forward(self, x: Tensor, mask: Tensor, adjacency: Tensor, distances: Tensor) -> Tensor:
        batch, length, dim = x.shape
        dk = dim // self.heads
        q, k, v = (lin(x).view(batch, length, self.heads, dk).transpose(1, 2) for lin in self.linears[:3])
        scores = (q @ k.transpose(-1, -2) / math.sqrt(dk)).masked_fill(~mask[:, None, None, :], -1e12)
        p_attn = scores.softmax(-1)
        far = distances.masked_fill(~mask[:, None, :], float("inf"))
        p_dist = (-far).softmax(-1) if self.kernel == "softmax" else torch.exp(-far)
        p_adj = adjacency / (adjacency.sum(-1, keepdim=True) + 1e-6)
        la, ld, lg = self.lambdas
        weights = la * p_attn + ld * p_dist[:, None] + lg * p_adj[:, None]
        return self.linears[3]((weights @ v).transpose(1, 2).reshape(batch, length, dim))


class ReferenceFeedForward(nn.Module):
    """leaky_relu(W x + b) (N_dense = 1)."""

    def __init__(self, dim: int, slope: float) -> None:
        super().__init__()
        self.linears = nn.ModuleList([nn.Linear(dim, dim)])
        self.slope = slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.linears[0](x), self.slope)


class ReferenceSublayer(nn.Module):
    """x + f(norm(x))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = ReferenceNorm(dim)


class ReferenceLayer(nn.Module):
    def __init__(self, dim: int, heads: int, lambdas: tuple[float, float, float], kernel: str, slope: float) -> None:
        super().__init__()
        self.self_attn = ReferenceAttention(dim, heads, lambdas, kernel)
        self.feed_forward = ReferenceFeedForward(dim, slope)
        self.sublayer = nn.ModuleList(ReferenceSublayer(dim) for _ in range(2))

    def forward(self, x: Tensor, mask: Tensor, adjacency: Tensor, distances: Tensor) -> Tensor:
        x = x + self.self_attn(self.sublayer[0].norm(x), mask, adjacency, distances)
        return x + self.feed_forward(self.sublayer[1].norm(x))


class ReferenceEncoder(nn.Module):
    def __init__(self, dim: int, depth: int, **layer: object) -> None:
        super().__init__()
        self.layers = nn.ModuleList(ReferenceLayer(dim, **layer) for _ in range(depth))
        self.norm = ReferenceNorm(dim)


class ReferenceMAT(nn.Module):
    """Embedding -> pre-norm layers -> final norm -> mean over real tokens -> linear."""

    def __init__(self, d_atom: int, dim: int, depth: int, heads: int, lambdas: tuple[float, float, float], kernel: str, slope: float) -> None:
        super().__init__()
        self.src_embed = nn.Module()
        self.src_embed.lut = nn.Linear(d_atom, dim)
        self.encoder = ReferenceEncoder(dim, depth, heads=heads, lambdas=lambdas, kernel=kernel, slope=slope)
        self.generator = nn.Module()
        self.generator.proj = nn.Linear(dim, 1)

    def forward(self, features: Tensor, adjacency: Tensor, distances: Tensor) -> tuple[Tensor, Tensor]:
        mask = features.abs().sum(-1) != 0  # MAT's mask: any non-zero feature (the dummy node counts)
        x = self.src_embed.lut(features)
        for layer in self.encoder.layers:
            x = layer(x, mask, adjacency, distances)
        hidden = self.encoder.norm(x)
        weights = mask[..., None].float()
        pooled = (hidden * weights).sum(1) / weights.sum(1)
        return hidden, self.generator.proj(pooled)


PUBLISHED = {"h": 16, "distance_matrix_kernel": "exp", "leaky_relu_slope": 0.1, "lambda_attention": 0.33, "lambda_distance": 0.33, "d_model": 1024, "N": 8}
SMALL = {"d_model": 32, "N": 2}
# ten times the smallest max abs differences the README reports (hidden states, predictions, scored end to end)
HIDDEN_TOLERANCE, PREDICTION_TOLERANCE, SCORED_TOLERANCE = 9.5e-6, 1.2e-6, 8.6e-7


@pytest.mark.parametrize(
    "settings",
    [
        {**SMALL, "h": 4, "distance_matrix_kernel": "exp", "leaky_relu_slope": 0.1, "lambda_attention": 0.33, "lambda_distance": 0.33},
        {**SMALL, "h": 2, "distance_matrix_kernel": "softmax", "leaky_relu_slope": 0.0, "lambda_attention": 0.5, "lambda_distance": 0.2},
        PUBLISHED,
    ],
    ids=["small-exp", "small-softmax", "published-size"],
)
def test_import_matches_reference_equations(tmp_path: Path, host, settings: dict) -> None:
    """Imported checkpoint == reference MAT on a padded batch of real molecules, to float32 rounding."""
    torch.manual_seed(0)
    la, ld = settings["lambda_attention"], settings["lambda_distance"]
    dim, depth = settings["d_model"], settings["N"]
    reference = ReferenceMAT(28, dim, depth, settings["h"], (la, ld, 1 - la - ld), settings["distance_matrix_kernel"], settings["leaky_relu_slope"]).eval()
    weights = tmp_path / "mat.pt"
    torch.save(reference.state_dict(), weights)
    weights.with_suffix(".json").write_text(json.dumps(settings))
    model = load_checkpoint(import_mat(weights, tmp_path / "imported", host, {}), host)
    tokenizer = host.tokenizer(model.config)
    batch = tokenizer([Record(str(i), smiles) for i, smiles in enumerate(MOLECULES)])
    with torch.no_grad():
        ours = model(batch)
        expected_hidden, expected_prediction = reference(batch.features, batch.extras["adjacency"], batch.extras["distances"])
    real = batch.padding_mask
    hidden_error = (ours.hidden[real] - expected_hidden[real]).abs().max().item()
    prediction_error = (ours.prediction - expected_prediction).abs().max().item()
    print(f"parity d_model {dim}, {settings['distance_matrix_kernel']}: hidden {hidden_error:.2e}, prediction {prediction_error:.2e}")
    assert hidden_error < HIDDEN_TOLERANCE, hidden_error
    assert prediction_error < PREDICTION_TOLERANCE, prediction_error


def one_hot(value: int, choices: list[int]) -> list[float]:
    """MAT's one-hot: a value outside `choices` counts as the last one."""
    value = value if value in choices else choices[-1]
    return [float(value == choice) for choice in choices]


def reference_inputs(block: str) -> tuple[Tensor, Tensor, Tensor]:
    """MAT's featurization of a MOL block on its own coordinates, written from the reference code:
    27 atom features plus the dummy-node flag, adjacency with self-loops, a dummy node 1e6 from everything."""
    mol = Chem.RemoveHs(Chem.MolFromMolBlock(block, removeHs=False))
    atoms = np.array([
        one_hot(a.GetAtomicNum(), [5, 6, 7, 8, 9, 15, 16, 17, 35, 53, 999]) + one_hot(a.GetDegree(), [0, 1, 2, 3, 4, 5])
        + one_hot(a.GetTotalNumHs(), [0, 1, 2, 3, 4]) + one_hot(a.GetFormalCharge(), [-1, 0, 1]) + [float(a.IsInRing()), float(a.GetIsAromatic())]
        for a in mol.GetAtoms()
    ])
    count = len(atoms)
    positions = mol.GetConformer().GetPositions()
    features, adjacency, distances = np.zeros((count + 1, 28)), np.zeros((count + 1, count + 1)), np.full((count + 1, count + 1), 1e6)
    features[0, 0], features[1:, 1:] = 1.0, atoms
    adjacency[1:, 1:] = Chem.GetAdjacencyMatrix(mol) + np.eye(count)
    distances[1:, 1:] = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    return tuple(torch.tensor(array, dtype=torch.float32)[None] for array in (features, adjacency, distances))


def test_scoring_sdf_conformers_matches_the_reference_on_them(tmp_path: Path, host) -> None:
    """An imported model scored on an SDF of given 3D conformers (`sciformer.scoring.score`) predicts what the
    reference predicts on those coordinates; re-embedding them (`geometry=embed`) does not."""
    torch.manual_seed(2)
    reference = ReferenceMAT(28, 32, 2, 4, (0.33, 0.33, 0.34), "exp", 0.1).eval()
    torch.save(reference.state_dict(), tmp_path / "mat.pt")
    (tmp_path / "mat.json").write_text(json.dumps({"h": 4, "d_model": 32, "N": 2}))
    checkpoint = import_mat(tmp_path / "mat.pt", tmp_path / "imported", host, {})
    blocks = []
    with Chem.SDWriter(str(tmp_path / "poses.sdf")) as writer:
        for index, smiles in enumerate(MOLECULES):
            mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
            AllChem.EmbedMolecule(mol, randomSeed=11)
            mol.SetProp("_Name", f"pose{index}")
            writer.write(mol)
            blocks.append(Chem.MolToMolBlock(mol))
    for name, options in (("given", {}), ("embedded", {"geometry": "embed"})):
        summary = score(checkpoint, tmp_path / "poses.sdf", tmp_path / f"{name}.h5", host, options=options)
        assert (summary.scored, summary.bad) == (len(MOLECULES), 0)
    with torch.no_grad():
        expected = np.array([reference(*reference_inputs(block))[1].item() for block in blocks])
    with h5py.File(tmp_path / "given.h5") as given, h5py.File(tmp_path / "embedded.h5") as embedded:
        ours, reembedded = given["prediction"][:].reshape(-1), embedded["prediction"][:].reshape(-1)
    print(f"parity on given conformers: prediction {np.abs(ours - expected).max():.2e}; re-embedded {np.abs(reembedded - expected).max():.2e}")
    assert np.abs(ours - expected).max() < SCORED_TOLERANCE
    assert np.abs(reembedded - expected).max() > 1e-4


def test_published_layout_gives_the_published_configuration() -> None:
    """d_model 1024, 8 layers, 16 heads, 28 atom features: read from shapes alone (meta tensors, no memory)."""
    state = {"src_embed.lut.weight": torch.empty(1024, 28, device="meta"), "encoder.norm.a_2": torch.empty(1024, device="meta")}
    for layer in range(8):
        state[f"encoder.layers.{layer}.feed_forward.linears.0.weight"] = torch.empty(1024, 1024, device="meta")
    config = mat_config(state, MatHyperparameters())
    assert (config.dim, config.depth, config.heads, config.norm_layer, config.mlp_layer, config.norm_eps) == (1024, 8, 16, "mat", "mat", 1e-6)
    assert (config.domain_options["feed_forward_activation"], config.domain_options["feed_forward_slope"]) == ("leaky_relu", 0.1)
    assert config.task is None and config.position == "none" and config.pooling == "mean"
    assert config.domain_options["distance_kernel"] == "exp" and config.domain_options["charge_encoding"] == "one-hot"


def test_unsupported_layouts_are_refused(tmp_path: Path, host) -> None:
    """Two feed-forward linears per layer (N_dense=2) and unknown tensors are named, not silently dropped."""
    state = ReferenceMAT(28, 8, 1, 2, (0.3, 0.3, 0.4), "exp", 0.1).state_dict()
    two_dense = {**state, "encoder.layers.0.feed_forward.linears.1.weight": torch.zeros(8, 8), "encoder.layers.0.feed_forward.linears.1.bias": torch.zeros(8)}
    torch.save(two_dense, tmp_path / "dense.pt")
    with pytest.raises(InputFileError, match="N_dense=1"):
        import_mat(tmp_path / "dense.pt", tmp_path / "out1", host, {"h": "2"})
    torch.save({**state, "encoder.extra": torch.zeros(3)}, tmp_path / "extra.pt")
    with pytest.raises(InputFileError, match="encoder.extra"):
        import_mat(tmp_path / "extra.pt", tmp_path / "out2", host, {"h": "2"})
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(InputFileError, match="not a loadable state dict"):
        import_mat(tmp_path / "junk.pt", tmp_path / "out3", host, {})


def test_import_command_writes_a_checkpoint(tmp_path: Path, host) -> None:
    """`sciformer import mat WEIGHTS --out DIR`, with the heads read from WEIGHTS.json."""
    from click.testing import CliRunner
    from sciformer.cli.main import build_cli

    torch.manual_seed(1)
    weights = tmp_path / "small.pt"
    torch.save(ReferenceMAT(28, 16, 1, 2, (0.33, 0.33, 0.34), "exp", 0.1).state_dict(), weights)
    weights.with_suffix(".json").write_text(json.dumps({"h": 2}))
    result = CliRunner().invoke(build_cli(host), ["import", "mat", str(weights), "--out", str(tmp_path / "ckpt")], obj=host)
    assert result.exit_code == 0, result.output
    model = load_checkpoint(tmp_path / "ckpt", host)
    assert (model.config.dim, model.config.depth, model.config.heads, model.config.task) == (16, 1, 2, "sequence-regression")


def test_import_options_override_the_sidecar(tmp_path: Path, host) -> None:
    """`--option h=2 --option lambda_attention=0.5` beat WEIGHTS.json; unknown keys are refused with the accepted ones."""
    from click.testing import CliRunner
    from sciformer.cli.main import build_cli

    weights = tmp_path / "small.pt"
    torch.save(ReferenceMAT(28, 16, 1, 2, (0.33, 0.33, 0.34), "exp", 0.1).state_dict(), weights)
    weights.with_suffix(".json").write_text(json.dumps({"h": 4, "lambda_distance": 0.25}))
    command = ["import", "mat", str(weights), "--out", str(tmp_path / "ckpt"), "--option", "h=2", "--option", "lambda_attention=0.5"]
    result = CliRunner().invoke(build_cli(host), command, obj=host)
    assert result.exit_code == 0, result.output
    config = load_checkpoint(tmp_path / "ckpt", host).config
    assert (config.heads, config.domain_options["lambda_attention"], config.domain_options["lambda_distance"]) == (2, 0.5, 0.25)
    refused = CliRunner().invoke(build_cli(host), [*command[:5], "--option", "heads=2"], obj=host)
    assert refused.exit_code != 0 and "unknown option(s) heads; it accepts aggregation_type, dense_output_nonlinearity" in refused.output
    with pytest.raises(ConfigError, match="option h='two' is not a valid int"):
        import_mat(weights, tmp_path / "bad", host, {"h": "two"})
