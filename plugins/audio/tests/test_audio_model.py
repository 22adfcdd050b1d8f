"""The AST model: parity with transformers' ASTModel / ASTForAudioClassification, imports, positions, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint, save_checkpoint
from sciformer.config import ModelConfig
from sciformer.engine.model import SciformerModel
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer_audio.embedder import resample_positions
from sciformer_audio.waveform import Waveform, resample
from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification, ASTModel

END_TO_END = 8.9e-6  # logits through transformers' own feature extractor: 8.9e-7 measured (README), ten times that allowed
# 128 mel bins at 16 kHz leave one band empty (see test_audio_fbank); transformers warns about it
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")
HF = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "num_mel_bins": 128, "max_length": 100}


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Perturb every parameter (transformers zero-initialises the special tokens and positions)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))


def save_hf(model: torch.nn.Module, folder: Path, *, state_dict_bin: bool = False) -> Path:
    """A transformers AST directory with a preprocessor config.

    `save_pretrained` writes the layout of published checkpoints (`encoder.layer.N.attention.attention.query`);
    with `state_dict_bin` the weights are instead the in-memory transformers 5 names (`layers.N.attention.q_proj`)
    in a pickled `pytorch_model.bin`, which the importer reads with weights_only=True.
    """
    model.save_pretrained(folder)
    ASTFeatureExtractor(num_mel_bins=128, max_length=HF["max_length"], mean=-5.0, std=3.5).save_pretrained(folder)
    if state_dict_bin:
        (folder / "model.safetensors").unlink()
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


@pytest.fixture(scope="module")
def waveforms(fsdd_waveforms: list[np.ndarray]) -> list[np.ndarray]:
    """Real speech resampled to 16 kHz and random audio of several lengths."""
    rng = np.random.default_rng(3)
    return [resample(w, 8000, 16000) for w in fsdd_waveforms[:3]] + [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (700, 20000)]


def run_ours(model: SciformerModel, host: PluginHost, waveforms: list[np.ndarray]):
    """Our model from waveforms, batched; returns its output and the features it computed."""
    batch = host.tokenizer(model.config)([Record(str(i), Waveform(w, 16000)) for i, w in enumerate(waveforms)])
    with torch.no_grad():
        return model(batch), model.embedder.features(batch)


@pytest.mark.parametrize("state_dict_bin", [False, True])
def test_classifier_parity_with_transformers(tmp_path: Path, host: PluginHost, waveforms: list[np.ndarray], state_dict_bin: bool) -> None:
    """Pooled outputs and logits of an imported ASTForAudioClassification, end to end from waveforms."""
    torch.manual_seed(0)
    reference = ASTForAudioClassification(ASTConfig(**HF, num_labels=5)).eval()
    randomise(reference, seed=1)
    source = save_hf(reference, tmp_path / "hf", state_dict_bin=state_dict_bin)
    ours = load_checkpoint(host.importers()["hf-ast"].run(source, tmp_path / "ours", host, {}), host)
    assert ours.config.task == "sequence-classification" and ours.config.labels == tuple(f"LABEL_{i}" for i in range(5))
    assert ours.config.norm_eps == 1e-12 and ours.config.option("norm_mean") == -5.0
    output, features = run_ours(ours, host, waveforms)
    with torch.no_grad():
        expected = reference(features)
        pooled = reference.audio_spectrogram_transformer(features).pooler_output
        extractor = ASTFeatureExtractor.from_pretrained(source)(waveforms, sampling_rate=16000, return_tensors="pt")["input_values"]
        via_extractor = reference(extractor).logits
    assert torch.equal(output.pooled, pooled) and torch.equal(output.prediction, expected.logits)  # on the same features: bitwise equal
    assert (features - extractor).abs().max() < 1e-3 / 7  # features alone: log-mel tolerance / (2 std), see test_audio_fbank
    assert (output.prediction - via_extractor).abs().max() < END_TO_END  # transformers' own front end throughout


def test_encoder_parity_with_transformers(tmp_path: Path, host: PluginHost, waveforms: list[np.ndarray]) -> None:
    """An ASTModel (no classifier) imports as an encoder whose pooled output is (CLS + distillation) / 2."""
    torch.manual_seed(0)
    reference = ASTModel(ASTConfig(**HF)).eval()
    randomise(reference, seed=2)
    ours = load_checkpoint(host.importers()["hf-ast"].run(save_hf(reference, tmp_path / "hf"), tmp_path / "ours", host, {}), host)
    assert ours.config.task is None and ours.head is None
    output, features = run_ours(ours, host, waveforms)
    with torch.no_grad():
        expected = reference(features)
    assert torch.equal(output.hidden, expected.last_hidden_state) and torch.equal(output.pooled, expected.pooler_output)


def test_import_names_what_is_missing(tmp_path: Path, host: PluginHost) -> None:
    """A directory lacking tensors fails with the names of some of them."""
    from safetensors.torch import load_file, save_file
    from sciformer.errors import InputFileError

    reference = ASTModel(ASTConfig(**HF))
    source = save_hf(reference, tmp_path / "hf")
    weights = load_file(source / "model.safetensors")
    save_file({k: v for k, v in weights.items() if "layer.1.output" not in k}, source / "model.safetensors")
    with pytest.raises(InputFileError, match=r"blocks\.1\.mlp\.fc2\.bias \(from encoder\.layer\.1\.output\.dense\.bias\)"):
        host.importers()["hf-ast"].run(source, tmp_path / "ours", host, {})


def small_config(**options: object) -> ModelConfig:
    """A tiny 8 kHz AST classifier."""
    domain_options = {"sample_rate": 8000, "num_mel_bins": 32, "max_length": 60, **options}
    return ModelConfig(domain="audio", dim=32, depth=2, heads=4, task="sequence-classification", num_labels=3, domain_options=domain_options)


def test_record_alone_equals_record_in_a_padded_batch(host: PluginHost, fsdd_waveforms: list[np.ndarray]) -> None:
    """Padding a short waveform next to a long one changes nothing in its outputs."""
    torch.manual_seed(0)
    model = build_model(small_config(), host).eval()
    tokenizer = host.tokenizer(model.config)
    records = [Record(str(i), Waveform(w, 8000)) for i, w in enumerate(fsdd_waveforms)]
    with torch.no_grad():
        together = model(tokenizer(records))
        for row, record in enumerate(records):
            alone = model(tokenizer([record]))
            assert (alone.prediction[0] - together.prediction[row]).abs().max() < 1e-5
            assert (alone.pooled[0] - together.pooled[row]).abs().max() < 1e-5


def test_positions_resample_when_the_frame_count_changes(host: PluginHost, fsdd_waveforms: list[np.ndarray]) -> None:
    """A model fine-tuned to fewer frames keeps its table's grid and resamples it to the new patch grid."""
    torch.manual_seed(0)
    trained = build_model(small_config(), host)
    grid = trained.embedder.settings.patch_grid
    shorter = build_model(small_config(max_length=40, position_grid=list(grid)), host)
    assert shorter.embedder.grid == (2, 3) and grid == (2, 5)
    shorter.load_state_dict(trained.state_dict())  # same shapes: the table keeps the trained grid
    batch = host.tokenizer(shorter.config)([Record("a", Waveform(fsdd_waveforms[0], 8000))])
    assert shorter.eval()(batch).hidden.shape == (1, 2 + 2 * 3, 32)
    # a table linear along time stays linear (bilinear resampling), special tokens untouched
    table = torch.zeros(1, 2 + 2 * 5, 1)
    table[0, 2:, 0] = torch.arange(5.0).repeat(2)
    resampled = resample_positions(table, (2, 5), (2, 3))
    assert resampled[0, :2].eq(0).all()
    assert torch.allclose(resampled[0, 2:5, 0], torch.tensor([1 / 3, 2.0, 11 / 3]))
    assert resample_positions(table, (2, 5), (2, 5)) is table


def test_checkpoint_round_trip_and_bfloat16(tmp_path: Path, host: PluginHost, fsdd_waveforms: list[np.ndarray]) -> None:
    """Saved and reloaded models agree exactly; bfloat16 autocast stays close to float32."""
    torch.manual_seed(0)
    model = build_model(small_config(frontend="spectrogram"), host).eval()
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "ckpt", host), host)
    batch = host.tokenizer(model.config)([Record(str(i), Waveform(w, 8000)) for i, w in enumerate(fsdd_waveforms)])
    assert model.embedder.features(batch).shape == (len(fsdd_waveforms), 60, 129)  # 256-point FFT bins
    with torch.no_grad():
        reference = model(batch).prediction
        assert torch.equal(loaded(batch).prediction, reference)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = loaded(batch).prediction.float()
    assert (low - reference).abs().max() < 0.1


def test_spec_augment_only_while_training(host: PluginHost, fsdd_waveforms: list[np.ndarray]) -> None:
    """Masks change training features (zeroed bands) and never evaluation features."""
    model = build_model(small_config(freq_mask=8, time_mask=10), host)
    batch = host.tokenizer(model.config)([Record(str(i), Waveform(w, 8000)) for i, w in enumerate(fsdd_waveforms)])
    model.eval()
    clean = model.embedder.features(batch)
    assert torch.equal(model.embedder.features(batch), clean)
    model.train()
    torch.manual_seed(4)
    masked = model.embedder.features(batch)
    floor = -model.embedder.settings.norm_mean / (2 * model.embedder.settings.norm_std)  # a zeroed raw value
    changed = masked != clean
    assert changed.any() and torch.allclose(masked[changed], torch.tensor(floor))
