"""Parity: FourCastNet / AFNO weights imported into sciformer give the outputs of the published equations.

The reference below is written from the AFNO / FourCastNet equations, independently of the plugin: the
spectral MLP as complex matrix products per block (the plugin uses real einsums), the patch embedding
as an explicit matrix product over flattened patches, the head's rearrange as explicit index loops.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from sciformer.checkpoint import load_checkpoint
from sciformer.cli.main import main as sciformer_main
from sciformer.data.batch import TokenBatch
from sciformer.plugins import PluginHost
from sciformer_weather.importer import TABLE, UNUSED, import_afno
from torch import Tensor

EPS = 1e-6  # FourCastNet's LayerNorm eps
TOLERANCE = 4.3e-5  # ten times the smaller max abs difference the README reports (measured 5.0e-6 and 4.3e-6)


# -- the reference, from the published equations ------------------------------------------------------


def reference_filter(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, lam: float, fraction: float) -> Tensor:
    """AFNO2D on (B, h, w, D): y = irfft2(S_lam(MLP(rfft2(x)))) + x, one complex 2-layer MLP per channel block,
    on the modes FourCastNet keeps: latitude-frequency rows [m - k, m + k), longitude-frequency columns [0, k),
    with m = h // 2 + 1 and k = int(m * fraction); all other modes are zero."""
    _batch, h, w, dim = x.shape
    blocks = w1.shape[1]
    size = dim // blocks
    spectrum = torch.fft.rfft2(x.double(), dim=(1, 2), norm="ortho")  # (B, h, w//2+1, D)
    middle = h // 2 + 1
    kept = int(middle * fraction)
    region = torch.zeros(h, w // 2 + 1, dtype=torch.bool)
    region[max(middle - kept, 0) : middle + kept, :kept] = True
    out = torch.zeros_like(spectrum)
    for k in range(blocks):
        channels = slice(k * size, (k + 1) * size)
        z = spectrum[..., channels]  # (B, h, wf, size) complex
        weight1 = torch.complex(w1[0, k].double(), w1[1, k].double())
        weight2 = torch.complex(w2[0, k].double(), w2[1, k].double())
        hidden = z @ weight1
        hidden = torch.complex(torch.relu(hidden.real + b1[0, k].double()), torch.relu(hidden.imag + b1[1, k].double()))
        second = hidden @ weight2 + torch.complex(b2[0, k].double(), b2[1, k].double())
        shrunk = torch.complex(F.softshrink(second.real, lam), F.softshrink(second.imag, lam))
        out[..., channels] = shrunk * region[None, :, :, None]
    return torch.fft.irfft2(out, s=(h, w), dim=(1, 2), norm="ortho") + x.double()


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS) * weight.double() + bias.double()


def reference_forward(state: dict[str, Tensor], fields: Tensor, patch: int, depth: int, lam: float, fraction: float) -> Tensor:
    """FourCastNet's AFNONet forward: patch embedding, positions, blocks with double skip, head, rearrange."""
    batch, channels, rows, cols = fields.shape
    h, w = rows // patch, cols // patch
    x = fields.double()
    # patch embedding: each patch flattened in (c, p1, p2) order times the conv kernel
    kernel = state["patch_embed.proj.weight"].double()  # (D, C, p, p)
    dim = kernel.shape[0]
    patches = x.reshape(batch, channels, h, patch, w, patch).permute(0, 2, 4, 1, 3, 5).reshape(batch, h * w, channels * patch * patch)
    tokens = patches @ kernel.reshape(dim, -1).T + state["patch_embed.proj.bias"].double()
    tokens = tokens + state["pos_embed"].double()
    x = tokens.reshape(batch, h, w, dim)
    for n in range(depth):
        p = {k[len(f"blocks.{n}.") :]: v for k, v in state.items() if k.startswith(f"blocks.{n}.")}
        residual = x
        y = reference_filter(layer_norm(x, p["norm1.weight"], p["norm1.bias"]), p["filter.w1"], p["filter.b1"], p["filter.w2"], p["filter.b2"], lam, fraction)
        x = y + residual  # double skip
        hidden = layer_norm(x, p["norm2.weight"], p["norm2.bias"]) @ p["mlp.fc1.weight"].double().T + p["mlp.fc1.bias"].double()
        hidden = 0.5 * hidden * (1.0 + torch.erf(hidden / 2**0.5))  # exact GELU
        x = x + hidden @ p["mlp.fc2.weight"].double().T + p["mlp.fc2.bias"].double()
    head = x @ state["head.weight"].double().T  # (B, h, w, p*p*C), no bias
    out = torch.zeros(batch, channels, rows, cols, dtype=torch.float64)
    for a in range(patch):
        for b in range(patch):
            for c in range(channels):
                out[:, c, a::patch, b::patch] = head[..., (a * patch + b) * channels + c]
    return out


def fourcastnet_state(dim: int, channels: int, patch: int, tokens: int, depth: int, blocks: int, generator: torch.Generator) -> dict[str, Tensor]:
    """A FourCastNet-shaped state dict with random values (LayerNorms included, so every mapping row matters)."""

    def rand(*shape: int, scale: float = 0.2) -> Tensor:
        return scale * torch.randn(*shape, generator=generator)

    size = dim // blocks
    state = {
        "patch_embed.proj.weight": rand(dim, channels, patch, patch),
        "patch_embed.proj.bias": rand(dim),
        "pos_embed": rand(1, tokens, dim),
        "norm.weight": 1 + rand(dim),
        "norm.bias": rand(dim),
        "head.weight": rand(channels * patch * patch, dim),
    }
    for n in range(depth):
        state.update(
            {
                f"blocks.{n}.norm1.weight": 1 + rand(dim),
                f"blocks.{n}.norm1.bias": rand(dim),
                f"blocks.{n}.filter.w1": rand(2, blocks, size, size),
                f"blocks.{n}.filter.b1": rand(2, blocks, size),
                f"blocks.{n}.filter.w2": rand(2, blocks, size, size),
                f"blocks.{n}.filter.b2": rand(2, blocks, size),
                f"blocks.{n}.norm2.weight": 1 + rand(dim),
                f"blocks.{n}.norm2.bias": rand(dim),
                f"blocks.{n}.mlp.fc1.weight": rand(4 * dim, dim),
                f"blocks.{n}.mlp.fc1.bias": rand(4 * dim),
                f"blocks.{n}.mlp.fc2.weight": rand(dim, 4 * dim),
                f"blocks.{n}.mlp.fc2.bias": rand(dim),
            }
        )
    return state


def write_source(folder: Path, state: dict[str, Tensor], settings: dict | None) -> Path:
    """A FourCastNet training checkpoint (DDP `module.` names under `model_state`) plus afno.json."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 3, "model_state": {f"module.{k}": v for k, v in state.items()}}, folder / "best_ckpt.tar")
    if settings is not None:
        (folder / "afno.json").write_text(json.dumps(settings))
    return folder


@pytest.mark.parametrize(
    ("rows", "cols", "fraction", "settings"),
    [
        (16, 32, 1.0, None),  # grid inferred (2:1 global layout); w // 2 + 1 > h // 2 + 1 drops high longitude modes
        (12, 16, 0.5, {"img_size": [12, 16], "hard_thresholding_fraction": 0.5}),  # thresholding keeps a band of modes
    ],
)
def test_imported_afno_matches_the_published_equations(tmp_path: Path, rows: int, cols: int, fraction: float, settings: dict | None) -> None:
    patch, dim, depth, blocks, channels = 4, 32, 2, 4, 3
    generator = torch.Generator().manual_seed(rows)
    state = fourcastnet_state(dim, channels, patch, (rows // patch) * (cols // patch), depth, blocks, generator)
    source = write_source(tmp_path / "fourcastnet", state, settings)
    out = import_afno(source, tmp_path / "imported", PluginHost(), {})
    model = load_checkpoint(out, PluginHost())
    assert model.config.domain_options["grid"] == [rows, cols]
    fields = torch.randn(2, channels, rows, cols, generator=generator)
    batch = TokenBatch(padding_mask=torch.ones(2, (rows // patch) * (cols // patch), dtype=torch.bool), record_ids=["a", "b"], features=fields)
    with torch.no_grad():
        ours = model(batch).prediction
    expected = reference_forward(state, fields, patch, depth, 0.01, fraction)
    error = (ours.double() - expected).abs().max().item()
    assert error < TOLERANCE, f"max abs difference {error:.3e}"


def test_import_command_and_mapping_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generator = torch.Generator().manual_seed(0)
    state = fourcastnet_state(16, 2, 4, 8, 1, 2, generator)
    source = write_source(tmp_path / "src", state, {"img_size": [8, 16], "channels": ["u10", "v10"], "mean": [1.0, 2.0], "std": [3.0, 4.0]})
    with pytest.raises(SystemExit) as done:
        sciformer_main(["import", "afno", str(source / "best_ckpt.tar"), "--out", str(tmp_path / "ckpt")])
    assert done.value.code == 0
    assert "imported afno weights" in capsys.readouterr().out
    model = load_checkpoint(tmp_path / "ckpt", PluginHost())
    assert model.config.domain_options["channels"] == ["u10", "v10"]
    assert model.config.domain_options["std"] == [3.0, 4.0]
    ours = model.state_dict()
    origins = TABLE.origins(depth=1)
    assert sorted(theirs for (theirs,) in origins.values()) == sorted(name for name in state if name not in UNUSED)
    for name, (theirs,) in origins.items():
        assert torch.equal(ours[name], state[theirs]), name
    assert len(TABLE.rows) == 16
    assert TABLE.origins(depth=12)["blocks.11.mixer.w2"] == ("blocks.11.filter.w2",)


def test_import_rejects_unknown_tensors(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(1)
    state = fourcastnet_state(16, 2, 4, 8, 1, 2, generator)
    state["blocks.0.attn.qkv.weight"] = torch.zeros(48, 16)
    source = write_source(tmp_path / "src", state, {"img_size": [8, 16]})
    with pytest.raises(Exception, match="does not know"):
        import_afno(source, tmp_path / "out", PluginHost(), {})
